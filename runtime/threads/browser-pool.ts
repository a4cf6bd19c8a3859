/**
 * Threads in the browser. The page's main thread may not block in Atomics.wait, so the layer loop and
 * its barrier run in a dedicated "leader" Web Worker (compute thread 0) that blocks while the helper
 * workers (1 … threads − 1) share the work of each step; all of them share the model's one
 * WebAssembly.Memory. The main thread only posts the input and receives the outputs: one message each
 * way per inference, and the page stays responsive while the network runs.
 *
 * The control block and the barrier are those of the Node pool (protocol.ts, node-pool.ts); this
 * module holds the main-thread side (startBrowserThreads) and the leader's StepExecutor
 * (BarrierExecutor, used by browser-worker.ts).
 */
import { VggcError } from '../format/errors.js';
import { CONTROL, controlInts, pollHelpers, postStep, rangeWords, shareStep, shutDown, STEP_TIMEOUT_MS, type StepWork } from './protocol.js';
import { checkInferInput, namedOutputs } from '../infer.js';
import { outputCopiers } from '../outputs.js';
import type { ModelInstance } from '../instance.js';
import type { VggcModel } from '../model.js';
import type { StepExecutor } from './executor.js';


/** Messages from the main thread to a worker. */
export type ToWorker =
  | {
      readonly type: 'init';
      readonly role: 'leader' | 'helper';
      readonly worker: number;
      readonly size: number;
      readonly module: WebAssembly.Module;
      readonly memory: WebAssembly.Memory;
      readonly control: Int32Array;
      readonly functions: readonly string[];
      /** Leader only. */
      readonly manifest?: ModelInstance['manifest'];
      readonly build?: ModelInstance['build'];
      readonly label?: string;
    }
  | { readonly type: 'infer'; readonly id: number; readonly input: Float32Array; readonly n: number }
  /** Leader: run every layer once on a few work items (steps.ts warmUp), answered by an empty result. */
  | { readonly type: 'warm-up'; readonly id: number };

/** Messages from a worker to the main thread. */
export type FromWorker =
  | { readonly type: 'ready' }
  /** Every named output, in model.json's order (transferred). */
  | { readonly type: 'result'; readonly id: number; readonly outputs: readonly Float32Array[] }
  | { readonly type: 'error'; readonly id?: number; readonly message: string; readonly vggc: boolean };

/**
 * The leader's executor: the same barrier as the Node WorkerPool. Per step it posts the work items in
 * the control block, bumps GENERATION and notifies, runs its share (protocol.ts, shareStep), then
 * waits until PENDING is 0. Only valid inside a worker (it blocks in Atomics.wait).
 */
export class BarrierExecutor implements StepExecutor {
  private failure: string | null = null;
  private readonly ranges: BigInt64Array;

  constructor(
    private readonly control: Int32Array,
    readonly threads: number,
  ) {
    this.ranges = rangeWords(control);
  }

  run(step: number, work: StepWork, own: (start: number, end: number) => void): void {
    if (this.failure) throw new VggcError(`the thread pool is broken: ${this.failure}`);
    const c = this.control;
    postStep(c, this.ranges, step, work);
    try {
      shareStep(c, this.ranges, 0, own);
    } catch (e) {
      // The helpers may still be in this step: no later step may be posted over them.
      this.failure ??= `step ${step} failed on the leader: ${String((e as Error)?.message ?? e)}`;
      throw e;
    }
    pollHelpers(c);
    // A worker may block here (the leader is one); the main thread of a page never runs this.
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (let pending = Atomics.load(c, CONTROL.PENDING); pending !== 0; pending = Atomics.load(c, CONTROL.PENDING)) {
      if (Atomics.wait(c, CONTROL.PENDING, pending, 1000) === 'timed-out' && Date.now() > deadline) {
        this.failure = `a worker did not finish step ${step} within ${STEP_TIMEOUT_MS / 1000} s`;
        throw new VggcError(`the thread pool is broken: ${this.failure}`);
      }
    }
    if (Atomics.load(c, CONTROL.ERROR)) {
      this.failure ??= `a worker failed in step ${step}`;
      throw new VggcError(`the thread pool is broken: ${this.failure}`);
    }
  }

  async terminate(): Promise<void> {
    shutDown(this.control);
  }
}

/**
 * Starts the leader and `size − 1` helpers on `inst`'s module and shared memory and returns the model
 * whose infer() runs in them. Needs crossOriginIsolated (a shared memory cannot be posted otherwise).
 */
export async function startBrowserThreads(inst: ModelInstance, size: number, label: string, warm = true): Promise<VggcModel> {
  const { manifest } = inst;
  const control = new Int32Array(new SharedArrayBuffer(controlInts(size) * 4));
  const script = new URL('./browser-worker.js', import.meta.url);
  const functions = inst.steps.map((s) => s.info.function);
  const workers: Worker[] = [];
  let failure: string | null = null;
  let disposed = false;
  let nextId = 1;
  const pending = new Map<number, { resolve: (x: readonly Float32Array[]) => void; reject: (e: Error) => void }>();

  const fail = (why: string): void => {
    failure ??= why;
    // Unblock a leader waiting for a dead helper: it sees ERROR and throws instead of waiting 120 s.
    Atomics.store(control, CONTROL.ERROR, 1);
    Atomics.store(control, CONTROL.PENDING, 0);
    Atomics.notify(control, CONTROL.PENDING);
    for (const p of pending.values()) p.reject(new VggcError(`${label}: the thread pool is broken: ${failure}`));
    pending.clear();
  };

  const ready: Promise<void>[] = [];
  for (let w = 0; w < size; w++) {
    const role = w === 0 ? 'leader' : 'helper';
    const worker = new Worker(script, { type: 'module', name: `vggc ${role} ${w}` });
    workers.push(worker);
    ready.push(
      new Promise<void>((resolve, reject) => {
        worker.addEventListener('message', (e: MessageEvent<FromWorker>) => {
          const m = e.data;
          if (m.type === 'ready') resolve();
          else if (m.type === 'result') {
            pending.get(m.id)?.resolve(m.outputs);
            pending.delete(m.id);
          } else if (m.type === 'error') {
            const err = m.vggc ? new VggcError(m.message) : new Error(m.message);
            if (m.id !== undefined && pending.has(m.id)) {
              pending.get(m.id)!.reject(err);
              pending.delete(m.id);
            } else {
              reject(new VggcError(`${label}: ${role} worker ${w} failed: ${m.message}`));
              fail(`${role} worker ${w}: ${m.message}`);
            }
          }
        });
        worker.addEventListener('error', (e: ErrorEvent) => {
          const why = `${role} worker ${w} crashed: ${e.message || 'could not load browser-worker.js'}`;
          reject(new VggcError(`${label}: ${why}`));
          fail(why);
        });
        worker.addEventListener('messageerror', () => fail(`${role} worker ${w}: a message could not be deserialised`));
      }),
    );
    const init: ToWorker = {
      type: 'init',
      role,
      worker: w,
      size,
      module: inst.module,
      memory: inst.memory,
      control,
      functions,
      ...(w === 0 ? { manifest, build: inst.build, label } : {}),
    };
    worker.postMessage(init);
  }
  const terminate = (): void => {
    shutDown(control);
    for (const w of workers) w.terminate();
  };
  try {
    await Promise.all(ready);
    if (warm) {
      const id = nextId++;
      await new Promise<readonly Float32Array[]>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        workers[0].postMessage({ type: 'warm-up', id } satisfies ToWorker);
      });
    }
  } catch (e) {
    terminate();
    throw e;
  }

  const [c, h, w] = manifest.input.shape;
  const outputs = outputCopiers(inst.memory.buffer, manifest.outputs).map((o) => o.info);
  const run = (input: Float32Array, n: number): Promise<readonly Float32Array[]> => {
    if (disposed) return Promise.reject(new VggcError(`${label}: infer() called after dispose()`));
    if (failure) return Promise.reject(new VggcError(`${label}: the thread pool is broken: ${failure}`));
    try {
      checkInferInput(input, n, [c, h, w]);
    } catch (e) {
      return Promise.reject(e);
    }
    // Copied now (the caller may reuse its buffer); the copy is transferred, not cloned again.
    const copy = input.slice();
    const id = nextId++;
    return new Promise<readonly Float32Array[]>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      const msg: ToWorker = { type: 'infer', id, input: copy, n };
      workers[0].postMessage(msg, [copy.buffer]);
    });
  };
  return {
    manifest,
    inputShape: [c, h, w],
    numClasses: outputs[0].shape.reduce((a, b) => a * b, 1),
    outputs,
    threads: size,
    build: inst.build,
    infer: (input, n = 1) => run(input, n).then((out) => out[0]),
    inferAll: (input, n = 1) => run(input, n).then((out) => namedOutputs(outputs, out, n)),
    dispose() {
      if (disposed) return Promise.resolve();
      disposed = true;
      for (const p of pending.values()) p.reject(new VggcError(`${label}: disposed while inferring`));
      pending.clear();
      terminate(); // Worker.terminate() stops a browser's workers at once
      return Promise.resolve();
    },
  };
}
