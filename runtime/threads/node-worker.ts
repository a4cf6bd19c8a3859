/**
 * One worker of the Node thread pool (node-pool.ts): instantiates the model's module on the shared
 * memory, then runs the common helper loop (protocol.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { helperLoop } from './protocol.js';
import { exportedFunctions } from '../instance.js';
const { module, memory, functions, control, worker } = workerData as {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  functions: string[];
  control: Int32Array;
  worker: number;
};

try {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const fns = exportedFunctions(instance, functions, 'worker');
  helperLoop(control, worker, fns, () => parentPort!.postMessage({ ready: true }), (error) => parentPort!.postMessage({ error }));
} catch (e) {
  parentPort!.postMessage({ error: String((e as Error)?.message ?? e) });
}
