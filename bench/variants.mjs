// @ts-check
/** The vggc configurations the benchmark runs, one engine row each (bench/run.mjs). */

/**
 * vggc variants to benchmark, each its own engine row. Add threaded / relaxed-SIMD variants here:
 *   loadOptions:    passed to loadModel(dir, loadOptions), e.g. { threads: 2 }
 *   compileOptions: extra compileModel options (e.g. { kernels: 'relaxed' }); each distinct set is
 *                   compiled into its own cache folder
 *   nodeArgs:       node flags for the worker process (e.g. ['--experimental-wasm-relaxed-simd'])
 *   quantised:      weights are not f32, so its logits are compared with f32 vggc for information
 *                   only (its accuracy is tested on Fashion-MNIST), not held to the parity tolerance
 * @type {{ label: string, loadOptions: object, compileOptions?: object, nodeArgs?: string[], quantised?: boolean }[]}
 */
export const VGGC_VARIANTS = [
  // loadModel's default is now one thread per available core, so the single-thread row says so explicitly.
  { label: 'vggc 1 thread', loadOptions: { threads: 1 } },
  { label: 'vggc 2 threads', loadOptions: { threads: 2 } },
  // The relaxed-SIMD build (model-relaxed.wasm, compiled beside model.wasm); Node 20 needs the flag.
  { label: 'vggc relaxed 1 thread', loadOptions: { threads: 1, build: 'relaxed' }, nodeArgs: ['--experimental-wasm-relaxed-simd'] },
  { label: 'vggc relaxed 2 threads', loadOptions: { threads: 2, build: 'relaxed' }, nodeArgs: ['--experimental-wasm-relaxed-simd'] },
  // --weights-dtype int8: fully-connected weights stream as int8 (4× fewer bytes), dequantised in the kernels.
  { label: 'vggc int8 1 thread', loadOptions: { threads: 1 }, compileOptions: { weightsDtype: 'int8' }, quantised: true },
  { label: 'vggc int8 2 threads', loadOptions: { threads: 2 }, compileOptions: { weightsDtype: 'int8' }, quantised: true },
];
