/**
 * One worker of the Node thread pool (threads-node.ts): instantiates the model's module on the shared
 * memory, then runs the common helper loop (threads-protocol.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { helperLoop } from './threads-protocol.js';
import { exportedFunctions } from './model.js';
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
