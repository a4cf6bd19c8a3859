/**
 * A Web Worker of the browser thread pool (browser-pool.ts). Every worker instantiates the model's
 * module on the shared memory.
 * - Helpers (worker ≥ 1) sleep on the control block and run their range of each step they are woken
 *   for, like node-worker.ts.
 * - The leader (worker 0) runs the model: wrapInstance() from infer.ts with the BarrierExecutor, so the
 *   layer loop, input copy-in and output copy-out are the same code as in Node.
 */
import { VggcError } from '../format/errors.js';
import { exportedFunctions, instanceSteps, type ModelInstance, type StepFn } from '../instance.js';
import { wrapInstance } from '../infer.js';
import type { VggcModel } from '../model.js';
import { warmUp } from '../steps.js';
import { helperLoop } from './protocol.js';
import { BarrierExecutor, type FromWorker, type ToWorker } from './browser-pool.js';


const post = (m: FromWorker, transfer: Transferable[] = []): void => (self as unknown as Worker).postMessage(m, transfer);
let model: VggcModel | null = null;
let warm: (() => Promise<void>) | null = null;

self.onmessage = (e: MessageEvent<ToWorker>): void => {
  const m = e.data;
  if (m.type === 'init') {
    try {
      const instance = new WebAssembly.Instance(m.module, { env: { memory: m.memory } });
      const fns = exportedFunctions(instance, m.functions, m.label ?? 'model');
      if (m.role === 'leader') {
        const manifest = m.manifest!;
        const inst: ModelInstance = { manifest, build: m.build!, module: m.module, memory: m.memory, steps: instanceSteps(manifest, fns) };
        const executor = new BarrierExecutor(m.control, m.size);
        // The page transfers each input to this worker, so no one else holds it: no second copy.
        model = wrapInstance(inst, m.label ?? 'model', executor, { copyInput: false });
        warm = () => warmUp(inst, executor);
        post({ type: 'ready' });
      } else {
        runHelper(m.control, m.worker, fns);
      }
    } catch (err) {
      post({ type: 'error', message: String((err as Error)?.message ?? err), vggc: err instanceof VggcError });
    }
  } else if (m.type === 'warm-up') {
    if (!warm) {
      post({ type: 'error', id: m.id, message: 'the leader worker is not initialised', vggc: true });
      return;
    }
    warm().then(
      () => post({ type: 'result', id: m.id, outputs: [] }),
      (err) => post({ type: 'error', id: m.id, message: String((err as Error)?.message ?? err), vggc: err instanceof VggcError }),
    );
  } else if (m.type === 'infer') {
    if (!model) {
      post({ type: 'error', id: m.id, message: 'the leader worker is not initialised', vggc: true });
      return;
    }
    const { outputs } = model;
    model.inferAll(m.input, m.n).then(
      (all) => {
        const data = outputs.map((o) => all[o.name].data);
        post({ type: 'result', id: m.id, outputs: data }, data.map((d) => d.buffer as ArrayBuffer));
      },
      (err) => post({ type: 'error', id: m.id, message: String((err as Error)?.message ?? err), vggc: err instanceof VggcError }),
    );
  }
};

/** A helper never returns to the event loop: it sleeps in Atomics.wait until the pool shuts down. */
function runHelper(control: Int32Array, worker: number, fns: readonly StepFn[]): void {
  helperLoop(control, worker, fns, () => post({ type: 'ready' }), (message) => post({ type: 'error', message, vggc: false }));
}
