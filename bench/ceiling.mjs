// @ts-check
/**
 * The single-thread f32x4 compute ceiling of this machine and engine, measured on the Winograd GEMM's
 * own register tile: the compiler's gemmTile (4 tiles × 8 channels, the deterministic build's
 * separate `mul` and `add`), compiled by the compiler's own AssemblyScript step (same flags, helpers
 * and shared imported memory as a model), run over operands that stay in L1 so that nothing but the
 * arithmetic limits it. The benchmark holds each layer's share of the ceiling, and its roofline, to
 * this figure from the same run, not to the constant measured on another machine
 * (runtime/profile-node.ts's CEILING_GFLOPS, which `vggc bench DIR` still uses).
 *
 *   node bench/ceiling.mjs      prints the figure (run `npm run build` first)
 */
import { pathToFileURL } from 'node:url';
import { importDist } from './common.mjs';

const { gemmTile } = await importDist('compiler/codegen/kernels/winograd-transforms.js');
const { compileAssemblyScript } = await importDist('compiler/assemble/asc.js');
const { HELPERS_MODULE } = await importDist('compiler/codegen/module.js');
const { WINOGRAD_GEMM_ROWS } = await importDist('compiler/schedule/tuning.js');
const { OUT_BLOCK } = await importDist('compiler/weights/layout.js');

const F32_BYTES = 4;
/** Reduction length: V (4 × 256 floats, 4 KiB) and the U panel (256 × 8 floats, 8 KiB) fit in any L1 data cache. */
const REDUCTION = 256;
const V_ADDRESS = 1024;
const U_ADDRESS = V_ADDRESS + WINOGRAD_GEMM_ROWS * REDUCTION * F32_BYTES;
const M_ADDRESS = U_ADDRESS + REDUCTION * OUT_BLOCK * F32_BYTES;
const MEMORY_PAGES = 1;
/** Flops per call of the tile: a multiply and an add per row, channel and reduction step. */
const TILE_FLOPS = 2 * WINOGRAD_GEMM_ROWS * OUT_BLOCK * REDUCTION;
/** Each timed run lasts about this long, and the best of RUNS is the ceiling (a busy host only slows). */
const RUN_MS = 25;
const RUNS = 40;

const source = [
  `import { madd } from './${HELPERS_MODULE}';`,
  // V's rows are REDUCTION floats apart (a plain, unchunked Cin), M's rows OUT_BLOCK floats.
  ...gemmTile('C', WINOGRAD_GEMM_ROWS, REDUCTION, OUT_BLOCK, REDUCTION, false),
  `export function run(reps: i32): void {`,
  `  for (let r = 0; r < reps; r++) C_gemm${WINOGRAD_GEMM_ROWS}x${OUT_BLOCK}(${V_ADDRESS}, ${U_ADDRESS}, ${M_ADDRESS});`,
  `}`,
].join('\n');

/**
 * @returns {Promise<{ gflops: number, median: number, runs: number, tile: string }>} best and median
 *   GFLOP/s of RUNS timed runs
 */
export async function measureCeiling() {
  const { wasm } = await compileAssemblyScript(source, { memoryPages: MEMORY_PAGES });
  const memory = new WebAssembly.Memory({ initial: MEMORY_PAGES, maximum: MEMORY_PAGES, shared: true });
  const { instance } = await WebAssembly.instantiate(wasm, { env: { memory } });
  new Float32Array(memory.buffer, 0, M_ADDRESS / F32_BYTES).forEach((_, i, a) => (a[i] = (i % 7) * 0.1));
  const run = /** @type {(reps: number) => void} */ (instance.exports.run);
  // Calibrate the repetitions to RUN_MS (after the engine's optimising tier has the function).
  let reps = 1000;
  for (let ms = 0; ms < RUN_MS / 4; ) {
    reps *= 2;
    const t = performance.now();
    run(reps);
    ms = performance.now() - t;
    if (ms >= RUN_MS / 4) reps = Math.ceil((reps * RUN_MS) / Math.max(ms, 1e-3));
  }
  const rates = [];
  for (let i = 0; i < RUNS; i++) {
    const t = performance.now();
    run(reps);
    rates.push((TILE_FLOPS * reps) / ((performance.now() - t) * 1e6));
  }
  rates.sort((a, b) => a - b);
  return { gflops: rates[RUNS - 1], median: rates[RUNS >> 1], runs: RUNS, tile: `vggc's f32 Winograd GEMM tile ${WINOGRAD_GEMM_ROWS}x${OUT_BLOCK}, K=${REDUCTION}, in L1` };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const c = await measureCeiling();
  console.log(`${c.tile}: best ${c.gflops.toFixed(1)} GFLOP/s, median ${c.median.toFixed(1)} of ${c.runs} runs (one thread)`);
}
