// @ts-check
/** The vggc configurations the benchmark runs, one engine row each (bench/run.mjs). */
import { importDist } from './common.mjs';

const { supportsRelaxedSimd } = await importDist('runtime/load/build.js');
/** Node 20 validates relaxed SIMD only with this flag; Node ≥ 22 has it and refuses the flag. */
const RELAXED_NODE_ARGS = supportsRelaxedSimd() ? [] : ['--experimental-wasm-relaxed-simd'];

/**
 * vggc variants to benchmark, each its own engine row. Add threaded / relaxed-SIMD variants here:
 *   loadOptions:    passed to loadModel(dir, loadOptions), e.g. { threads: 2 }
 *   compileOptions: extra compileModel options (e.g. { weightsDtype: 'int8' }); each distinct set is
 *                   compiled into its own cache folder
 *   nodeArgs:       node flags for the worker process (e.g. ['--experimental-wasm-relaxed-simd'])
 *   runtime:        the JavaScript runtime of the worker process (tools/runtimes/runtimes.mjs):
 *                   absent = the Node running the benchmark (Node 24 under `npm run bench`)
 *   quantised:      weights are not f32, so its logits are compared with f32 vggc for information
 *                   only (its accuracy is tested on Fashion-MNIST), not held to the parity tolerance
 * @type {{ label: string, loadOptions: object, compileOptions?: object, nodeArgs?: string[], runtime?: string, quantised?: boolean }[]}
 */
export const VGGC_VARIANTS = [
  // loadModel's default is now one thread per available core, so the single-thread row says so explicitly.
  { label: 'vggc 1 thread', loadOptions: { threads: 1 } },
  { label: 'vggc 2 threads', loadOptions: { threads: 2 } },
  // The relaxed-SIMD build (model-relaxed.wasm, compiled beside model.wasm), asked for explicitly.
  { label: 'vggc relaxed 1 thread', loadOptions: { threads: 1, build: 'relaxed' }, nodeArgs: RELAXED_NODE_ARGS },
  { label: 'vggc relaxed 2 threads', loadOptions: { threads: 2, build: 'relaxed' }, nodeArgs: RELAXED_NODE_ARGS },
  // --weights-dtype int8: fully-connected weights stream as int8 (4× fewer bytes), dequantised in the kernels.
  { label: 'vggc int8 1 thread', loadOptions: { threads: 1 }, compileOptions: { weightsDtype: 'int8' }, quantised: true },
  { label: 'vggc int8 2 threads', loadOptions: { threads: 2 }, compileOptions: { weightsDtype: 'int8' }, quantised: true },
  // The same model on the other runtimes users run, default (deterministic) build; which of them run
  // is bench/run.mjs's --runtimes (default node20,deno,bun).
  ...[
    ['node20', 'Node 20'],
    ['node22', 'Node 22'],
    ['node26', 'Node 26'],
    ['deno', 'Deno'],
    ['bun', 'Bun'],
  ].flatMap(([runtime, name]) => [1, 2].map((threads) => ({ label: `vggc ${name}, ${threads} thread${threads > 1 ? 's' : ''}`, loadOptions: { threads }, runtime }))),
];
