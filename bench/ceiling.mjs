// @ts-check
/**
 * The single-thread f32x4 compute ceiling of this machine and engine (compiler/cli/ceiling.ts: the
 * compiler's own 4×8 Winograd GEMM tile over operands in L1, best of 40 runs of 25 ms). The benchmark
 * (bench/run.mjs) measures it at its start and holds each layer's share of the ceiling, and its
 * roofline, to that figure; `vggc bench DIR` does the same.
 *
 *   node bench/ceiling.mjs [--relaxed]      prints the figure (run `npm run build` first)
 */
import { pathToFileURL } from 'node:url';
import { importDist } from './common.mjs';

/** @typedef {{ gflops: number, median: number, runs: number, tile: string }} Ceiling */
/** @type {{ measureCeiling: (opts?: { relaxed?: boolean }) => Promise<Ceiling>, reportedGflops: (c: Ceiling) => number }} */
const ceiling = await importDist('compiler/cli/ceiling.js');
export const { measureCeiling, reportedGflops } = ceiling;

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    const c = await measureCeiling({ relaxed: process.argv.includes('--relaxed') });
    console.log(`${c.tile}: best ${c.gflops.toFixed(1)} GFLOP/s, median ${c.median.toFixed(1)} of ${c.runs} runs (one thread)`);
  } catch (e) {
    console.error(`bench/ceiling.mjs: ${e instanceof Error ? e.message : e}`);
    process.exit(1);
  }
}
