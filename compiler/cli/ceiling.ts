/**
 * The single-thread f32x4 compute ceiling of this machine and engine, measured on the Winograd GEMM's
 * own register tile: the compiler's gemmTile (4 tiles × 8 channels), compiled by the compiler's own
 * AssemblyScript step (same flags, helpers and shared imported memory as a model; the relaxed build's
 * fused multiply-add when asked for), run over operands that stay in L1 so that nothing but the
 * arithmetic limits it. `vggc bench DIR` and the benchmark (bench/run.mjs) hold each layer's GFLOP/s
 * to this figure, measured in the same run: a constant measured on another machine would not say how
 * far a layer is from what this one can do (docs/performance.md, "Register tiles").
 */
import { compileAssemblyScript } from '../assemble/asc.js';
import { HELPERS_MODULE } from '../codegen/module.js';
import { gemmTile } from '../codegen/kernels/winograd-transforms.js';
import { WINOGRAD_GEMM_ROWS } from '../schedule/tuning.js';
import { F32_BYTES, OUT_BLOCK } from '../weights/layout.js';
import { supportsRelaxedSimd } from '../../runtime/load/build.js';

/** Reduction length: V (4 × 256 floats, 4 KiB) and the U panel (256 × 8 floats, 8 KiB) fit in any L1 data cache. */
const REDUCTION = 256;
const V_ADDRESS = 1024;
const U_ADDRESS = V_ADDRESS + WINOGRAD_GEMM_ROWS * REDUCTION * F32_BYTES;
const M_ADDRESS = U_ADDRESS + REDUCTION * OUT_BLOCK * F32_BYTES;
const MEMORY_PAGES = 1;
/** Flops per call of the tile: a multiply and an add per row, channel and reduction step. */
const TILE_FLOPS = 2 * WINOGRAD_GEMM_ROWS * OUT_BLOCK * REDUCTION;
/** Each timed run lasts about this long, and the best of CEILING_RUNS is the ceiling (a busy host only slows a run down). */
const RUN_MS = 25;
export const CEILING_RUNS = 40;

/** The figure a profile or roofline is held to: the best rate, to 0.1 GFLOP/s. */
export const reportedGflops = (c: Ceiling): number => Math.round(c.gflops * 10) / 10;

export interface Ceiling {
  /** Best GFLOP/s of the timed runs: the ceiling. */
  readonly gflops: number;
  /** Their median, to show how noisy the machine was. */
  readonly median: number;
  readonly runs: number;
  /** What was timed, for the report. */
  readonly tile: string;
}

function tileSource(): string {
  return [
    `import { madd } from './${HELPERS_MODULE}';`,
    // V's rows are REDUCTION floats apart (a plain, unchunked Cin), M's rows OUT_BLOCK floats.
    ...gemmTile('C', WINOGRAD_GEMM_ROWS, REDUCTION, OUT_BLOCK, REDUCTION, false),
    `export function run(reps: i32): void {`,
    `  for (let r = 0; r < reps; r++) C_gemm${WINOGRAD_GEMM_ROWS}x${OUT_BLOCK}(${V_ADDRESS}, ${U_ADDRESS}, ${M_ADDRESS});`,
    `}`,
  ].join('\n');
}

/** Times the tile CEILING_RUNS times for about RUN_MS each, on this thread (about 1.5 s in all). */
export async function measureCeiling(opts: { relaxed?: boolean } = {}): Promise<Ceiling> {
  if (opts.relaxed && !supportsRelaxedSimd()) throw new Error(`the relaxed ceiling needs relaxed SIMD, which this engine does not run (Node ≥ 22, Chromium, Firefox do)`);
  const { wasm } = await compileAssemblyScript(tileSource(), { memoryPages: MEMORY_PAGES, relaxed: opts.relaxed });
  const memory = new WebAssembly.Memory({ initial: MEMORY_PAGES, maximum: MEMORY_PAGES, shared: true });
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(new Uint8Array(wasm)), { env: { memory } });
  new Float32Array(memory.buffer, 0, M_ADDRESS / F32_BYTES).forEach((_, i, a) => (a[i] = (i % 7) * 0.1));
  const run = instance.exports.run as (reps: number) => void;
  // Calibrate the repetitions to RUN_MS (after the engine's optimising tier has the function).
  let reps = 1000;
  for (let ms = 0; ms < RUN_MS / 4; ) {
    reps *= 2;
    const t = performance.now();
    run(reps);
    ms = performance.now() - t;
    if (ms >= RUN_MS / 4) reps = Math.ceil((reps * RUN_MS) / Math.max(ms, 1e-3));
  }
  const rates: number[] = [];
  for (let i = 0; i < CEILING_RUNS; i++) {
    const t = performance.now();
    run(reps);
    rates.push((TILE_FLOPS * reps) / ((performance.now() - t) * 1e6));
  }
  rates.sort((a, b) => a - b);
  const kind = opts.relaxed ? 'relaxed_madd' : 'mul + add';
  return { gflops: rates[CEILING_RUNS - 1], median: rates[CEILING_RUNS >> 1], runs: CEILING_RUNS, tile: `vggc's f32 Winograd GEMM tile ${WINOGRAD_GEMM_ROWS}x${OUT_BLOCK} (${kind}), K=${REDUCTION}, in L1` };
}
