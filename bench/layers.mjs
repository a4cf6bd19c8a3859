// @ts-check
/**
 * Per-layer timing of a compiled vggc model: loads it with the runtime's low-level loadInstance and
 * times each layer function separately, in network order (so every step reads the activations its
 * predecessor just wrote), for one image.
 *
 *   import { layerBreakdown } from './bench/layers.mjs';
 *   const rows = await layerBreakdown('build/vgg11', { runs: 7 });
 *
 * Each row: step index, wasm function, kind, kernel, description, workItems, macs (per image, as
 * model.json counts them: a direct 3×3 convolution's), median ms, GFLOP/s = 2·macs / time, and that as
 * a share of the single-thread micro-kernel ceiling (CEILING_GFLOPS, 56 GFLOP/s, shared/ANCHORS.md).
 * For Winograd kernels this is the direct-convolution equivalent rate ("effective"), which can exceed
 * the ceiling since they do fewer multiplies. Steps without multiply-adds get null for both.
 */
import { benchInput, CEILING_GFLOPS, importDist, median } from './common.mjs';

export { CEILING_GFLOPS };

/**
 * @typedef {object} LayerRow
 * @property {number} step
 * @property {string} function
 * @property {string} kind
 * @property {string} kernel
 * @property {'winograd' | 'direct' | null} algorithm  for convolutions, from the kernel name
 * @property {string} description
 * @property {number} workItems
 * @property {number} macs
 * @property {number} ms          median over `runs`
 * @property {number} minMs
 * @property {number | null} gflops
 * @property {number | null} ceilingShare  gflops / CEILING_GFLOPS
 */

/**
 * @param {string} dir  folder written by `vggc compile`
 * @param {{ runs?: number, warmup?: number, loadOptions?: object }} [opts]
 *   runs: timed passes (default 7); warmup: untimed whole-network passes first (default 2; V8 runs a
 *   wasm function's first call in its baseline tier); loadOptions: passed to loadInstance.
 * @returns {Promise<LayerRow[]>}
 */
export async function layerBreakdown(dir, { runs = 7, warmup = 2, loadOptions = {} } = {}) {
  const { loadInstance } = await importDist('runtime/load-node.js');
  const inst = await loadInstance(dir, loadOptions);
  const { manifest, memory, steps } = inst;
  const [c, h, w] = manifest.input.shape;
  new Float32Array(memory.buffer, manifest.input.offset, c * h * w).set(benchInput(1, c, h, w));
  for (let r = 0; r < warmup; r++) for (const s of steps) s.fn(0, s.workItems);
  /** @type {number[][]} */
  const times = steps.map(() => []);
  for (let r = 0; r < runs; r++) {
    steps.forEach((s, i) => {
      const t0 = performance.now();
      s.fn(0, s.workItems);
      times[i].push(performance.now() - t0);
    });
  }
  return steps.map((s, i) => {
    const ms = median(times[i]);
    const macs = s.info.macs;
    const gflops = macs > 0 ? (2 * macs) / (ms * 1e6) : null;
    return {
      step: i,
      function: s.info.function,
      kind: s.info.kind,
      kernel: s.info.kernel,
      algorithm: s.info.kind === 'conv' ? (/winograd/.test(s.info.kernel) ? 'winograd' : 'direct') : null,
      description: s.info.description,
      workItems: s.workItems,
      macs,
      ms,
      minMs: Math.min(...times[i]),
      gflops,
      ceilingShare: gflops === null ? null : gflops / CEILING_GFLOPS,
    };
  });
}

/** The breakdown as text lines (used by the runner; a `vggc bench DIR` command can print the same). */
export function formatLayerRows(rows) {
  const total = rows.reduce((a, r) => a + r.ms, 0);
  const totalMacs = rows.reduce((a, r) => a + r.macs, 0);
  const pad = (s, n) => String(s).padEnd(n);
  const lpad = (s, n) => String(s).padStart(n);
  const desc = Math.max(11, ...rows.map((r) => r.description.length));
  const kern = Math.max(6, ...rows.map((r) => r.kernel.length));
  const lines = [`${pad('#', 3)} ${pad('description', desc)} ${pad('kernel', kern)} ${lpad('ms', 8)} ${lpad('share', 6)} ${lpad('GFLOP/s', 8)} ${lpad('of ' + CEILING_GFLOPS, 6)}`];
  const anyWinograd = rows.some((r) => r.algorithm === 'winograd');
  for (const r of rows) {
    lines.push(
      `${pad(r.step, 3)} ${pad(r.description, desc)} ${pad(r.kernel, kern)} ${lpad(r.ms.toFixed(2), 8)} ${lpad(((100 * r.ms) / total).toFixed(1) + '%', 6)} ${lpad(r.gflops === null ? '–' : r.gflops.toFixed(1), 8)} ${lpad(r.ceilingShare === null ? '–' : (100 * r.ceilingShare).toFixed(0) + '%', 6)}`,
    );
  }
  const g = (2 * totalMacs) / (total * 1e6);
  lines.push(`${pad('', 3)} ${pad('total (sum of steps)', desc)} ${pad('', kern)} ${lpad(total.toFixed(2), 8)} ${lpad('100%', 6)} ${lpad(g.toFixed(1), 8)} ${lpad(((100 * g) / CEILING_GFLOPS).toFixed(0) + '%', 6)}`);
  if (anyWinograd) lines.push('GFLOP/s counts a direct 3×3 convolution\'s 2·macs: Winograd steps do fewer multiplies, so theirs is an effective rate and can exceed the ceiling.');
  return lines;
}
