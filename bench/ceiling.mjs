// @ts-check
/**
 * The single-thread f32x4 compute ceiling of this machine and engine, measured: the Winograd GEMM's
 * register tile (4 rows × 8 channels, one f32x4 `mul` + `add` per update, bench/gemm-kernel.mjs) over
 * operands that stay in L1, so that nothing but the arithmetic limits it. The benchmark draws its
 * roofline and states each layer's share of the ceiling against this figure from the same run, not
 * against a constant measured on another machine (runtime/profile-node.ts's CEILING_GFLOPS, which
 * `vggc bench DIR` still uses).
 *
 *   node bench/ceiling.mjs      prints the figure
 */
import { pathToFileURL } from 'node:url';
import { compileAssemblyScript, registerTileSource } from './gemm-kernel.mjs';

/** Register-tile rows and channels of the tile vggc's Winograd GEMMs mostly use (mainGemmRows). */
const ROWS = 4;
const CHANNELS = 8;
/** Reduction length: A (4 × 256 floats, 4 KiB) and B (256 × 8 floats, 8 KiB) fit in any L1 data cache. */
const REDUCTION = 256;
const A_ADDRESS = 1024, B_ADDRESS = A_ADDRESS + ROWS * REDUCTION * 4, C_ADDRESS = B_ADDRESS + REDUCTION * CHANNELS * 4;
const MEMORY_BYTES = C_ADDRESS + ROWS * CHANNELS * 4;
/** Flops per call of the tile: a multiply and an add per row, channel and reduction step. */
const TILE_FLOPS = 2 * ROWS * CHANNELS * REDUCTION;
/** Each timed run lasts about this long, and the best of RUNS is the ceiling (a busy host only slows). */
const RUN_MS = 25;
const RUNS = 40;

const source = [
  registerTileSource({ rows: ROWS, unroll: 1, ci: REDUCTION, cop: CHANNELS }),
  `export function run(reps: i32): void {`,
  `  for (let r = 0; r < reps; r++) tile(${A_ADDRESS}, ${B_ADDRESS}, ${C_ADDRESS});`,
  `}`,
].join('\n');

/**
 * @returns {Promise<{ gflops: number, median: number, runs: number, tile: string }>} best and median
 *   GFLOP/s of RUNS timed runs
 */
export async function measureCeiling() {
  const { instance } = await WebAssembly.instantiate(await compileAssemblyScript(source, MEMORY_BYTES));
  const memory = /** @type {WebAssembly.Memory} */ (instance.exports.memory);
  new Float32Array(memory.buffer, 0, MEMORY_BYTES / 4).forEach((_, i, a) => (a[i] = (i % 7) * 0.1));
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
  return { gflops: rates[RUNS - 1], median: rates[RUNS >> 1], runs: RUNS, tile: `f32x4 ${ROWS}x${CHANNELS} mul+add, K=${REDUCTION}, in L1` };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const c = await measureCeiling();
  console.log(`${c.tile}: best ${c.gflops.toFixed(1)} GFLOP/s, median ${c.median.toFixed(1)} of ${c.runs} runs (one thread)`);
}
