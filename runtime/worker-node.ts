/**
 * One worker of the thread pool (threads-node.ts): instantiates the model's module on the shared
 * memory, then sleeps on the control block and runs its range of each step it is woken for.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { CONTROL } from './threads-protocol.js';

type StepFn = (start: number, end: number, worker: number) => void;
/** How long an idle worker polls for the next step before it sleeps. */
const SPIN_MS = 5;
const { module, memory, functions, control, worker } = workerData as {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  functions: string[];
  control: Int32Array;
  worker: number;
};

try {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const fns = functions.map((name) => instance.exports[name] as StepFn);
  // Read the generation before saying ready: the first step may be posted the moment we do.
  let generation = Atomics.load(control, CONTROL.GENERATION);
  parentPort!.postMessage({ ready: true });
  for (;;) {
    // Spin briefly before sleeping: the steps of one inference follow each other within
    // microseconds, and a thread that goes to sleep (and its vCPU with it) is slow to get going again.
    const spinUntil = performance.now() + SPIN_MS;
    while (Atomics.load(control, CONTROL.GENERATION) === generation && performance.now() < spinUntil);
    Atomics.wait(control, CONTROL.GENERATION, generation);
    generation = Atomics.load(control, CONTROL.GENERATION);
    if (Atomics.load(control, CONTROL.SHUTDOWN)) break;
    const start = control[CONTROL.RANGES + 2 * worker];
    const end = control[CONTROL.RANGES + 2 * worker + 1];
    try {
      if (start < end) fns[control[CONTROL.STEP]](start, end, worker);
    } catch (e) {
      Atomics.store(control, CONTROL.ERROR, 1);
      parentPort!.postMessage({ error: String((e as Error)?.message ?? e) });
    }
    if (Atomics.sub(control, CONTROL.PENDING, 1) === 1) Atomics.notify(control, CONTROL.PENDING);
  }
} catch (e) {
  parentPort!.postMessage({ error: String((e as Error)?.message ?? e) });
}
