/**
 * A Web Worker of the browser thread pool (threads-browser.ts). Every worker instantiates the model's
 * module on the shared memory.
 * - Helpers (worker ≥ 1) sleep on the control block and run their range of each step they are woken
 *   for, like worker-node.ts.
 * - The leader (worker 0) runs the model: wrapInstance() from model.ts with the BarrierExecutor, so the
 *   layer loop, input copy-in and logits copy-out are the same code as in Node.
 */
import { VggcError } from './errors.js';
import { wrapInstance, type InstanceStep, type ModelInstance, type VggcModel } from './model.js';
import { CONTROL } from './threads-protocol.js';
import { BarrierExecutor, type FromWorker, type ToWorker } from './threads-browser.js';

type StepFn = (start: number, end: number, worker: number) => void;
/** How long an idle helper polls for the next step before it sleeps. */
const SPIN_MS = 5;

const post = (m: FromWorker, transfer: Transferable[] = []): void => (self as unknown as Worker).postMessage(m, transfer);
let model: VggcModel | null = null;

self.onmessage = (e: MessageEvent<ToWorker>): void => {
  const m = e.data;
  if (m.type === 'init') {
    try {
      const instance = new WebAssembly.Instance(m.module, { env: { memory: m.memory } });
      const fns = m.functions.map((name) => {
        const fn = instance.exports[name];
        if (typeof fn !== 'function') throw new VggcError(`model.wasm has no function ${name}`);
        return fn as StepFn;
      });
      if (m.role === 'leader') {
        const manifest = m.manifest!;
        const steps: InstanceStep[] = manifest.steps.map((info, i) => ({ fn: fns[i], workItems: info.workItems, info }));
        const inst: ModelInstance = { manifest, build: m.build!, module: m.module, memory: m.memory, steps };
        model = wrapInstance(inst, m.label ?? 'model', new BarrierExecutor(m.control, m.size));
        post({ type: 'ready' });
      } else {
        helperLoop(m.control, m.worker, fns);
      }
    } catch (err) {
      post({ type: 'error', message: String((err as Error)?.message ?? err), vggc: err instanceof VggcError });
    }
  } else if (m.type === 'infer') {
    if (!model) {
      post({ type: 'error', id: m.id, message: 'the leader worker is not initialised', vggc: true });
      return;
    }
    model.infer(m.input, m.n).then(
      (logits) => post({ type: 'result', id: m.id, logits }, [logits.buffer]),
      (err) => post({ type: 'error', id: m.id, message: String((err as Error)?.message ?? err), vggc: err instanceof VggcError }),
    );
  }
};

/** A helper never returns to the event loop: it sleeps in Atomics.wait until the pool shuts down. */
function helperLoop(control: Int32Array, worker: number, fns: readonly StepFn[]): void {
  // Read the generation before saying ready: the first step may be posted the moment we do.
  let generation = Atomics.load(control, CONTROL.GENERATION);
  post({ type: 'ready' });
  for (;;) {
    const spinUntil = performance.now() + SPIN_MS;
    while (Atomics.load(control, CONTROL.GENERATION) === generation && performance.now() < spinUntil);
    Atomics.wait(control, CONTROL.GENERATION, generation);
    generation = Atomics.load(control, CONTROL.GENERATION);
    if (Atomics.load(control, CONTROL.SHUTDOWN)) break;
    const start = control[CONTROL.RANGES + 2 * worker];
    const end = control[CONTROL.RANGES + 2 * worker + 1];
    try {
      if (start < end) fns[control[CONTROL.STEP]](start, end, worker);
    } catch (err) {
      Atomics.store(control, CONTROL.ERROR, 1);
      post({ type: 'error', message: String((err as Error)?.message ?? err), vggc: false });
    }
    if (Atomics.sub(control, CONTROL.PENDING, 1) === 1) Atomics.notify(control, CONTROL.PENDING);
  }
  self.close();
}
