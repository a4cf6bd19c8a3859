// @ts-check
/**
 * Per-layer timing for the benchmark: a thin wrapper over the runtime's profiler
 * (runtime/profile-node.ts, also behind `vggc bench DIR`), so both print the same breakdown.
 */
import { importDist } from './common.mjs';

const profiler = await importDist('runtime/profile-node.js');

/**
 * @param {string} dir  folder written by `vggc compile`
 * @param {{ runs?: number, warmup?: number, loadOptions?: object }} [opts]
 * @returns {Promise<{ rows: { ms: number }[], threads: number, build: string }>}
 */
export async function layerBreakdown(dir, { runs = 7, warmup = 2, loadOptions = {} } = {}) {
  return profiler.profileLayers(dir, { ...loadOptions, runs, warmup });
}

/**
 * @param {{ rows: object[], threads: number, build: string }} profile
 * @param {number} ceilingGflops  single-thread ceiling measured in this run, for the "of" column
 */
export function formatLayerRows(profile, ceilingGflops) {
  return profiler.formatProfile(profile, { gflops: ceilingGflops, source: 'measured in this run' });
}
