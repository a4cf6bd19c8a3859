// @ts-check
/**
 * A roofline-style chart of the benchmark's per-layer breakdown: each layer's achieved GFLOP/s
 * against its arithmetic intensity (flops per byte it must move), under the single-thread f32x4
 * compute ceiling and the memory roof. Both axes are logarithmic.
 *
 * - Flops are a direct convolution's (2 · MACs), so a Winograd layer, which does about 4× fewer
 *   multiplies, can sit above the compute ceiling: how far above is what Winograd buys.
 * - Bytes are the least a layer must move: the weights its kernel reads (model.json's tensors in step
 *   order; for a Winograd layer the f32 filters U computed at load), biases and int8 scales, plus the
 *   stored input and output maps. Caches make the real traffic larger.
 * - The memory roof is the streaming rate the fully-connected layers reach in the same run (they
 *   read each weight once: their rate is the bandwidth a single thread gets), not a separate test.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Bytes each step of a compiled model must move at least, in step order.
 * @param {string} dir  folder written by `vggc compile`
 * @returns {number[]}
 */
export function stepBytes(dir) {
  const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
  /** @typedef {{ key: string, layout: string, byteLength: number }} Tensor */
  /** @type {Tensor[]} */
  const tensors = manifest.weights.tensors;
  // Weight tensors in payload order; a conv or linear step reads the next one, its bias and (int8) its scales.
  const weights = tensors.filter((t) => !t.layout.startsWith('bias') && !t.layout.startsWith('scale'));
  const extra = (/** @type {Tensor} */ w) => tensors.filter((t) => t.key.replace(/\.(weight|bias)$/, '') === w.key.replace(/\.weight$/, '') && t !== w).reduce((n, t) => n + t.byteLength, 0);
  // The transformed filters U of each Winograd layer, computed at load: model.json lists their bytes
  // (`prepare`, one function per layer, named after the layer's step: prepare02_… for layer02_…).
  const stepNumber = (/** @type {string} */ fn) => /^[a-z]+(\d+)_/.exec(fn)?.[1];
  /** @type {Map<string | undefined, number>} */
  const prepared = new Map((manifest.prepare ?? []).map((/** @type {{ function: string, bytes: number }} */ f) => [stepNumber(f.function), f.bytes]));
  let w = 0;
  let previous = 4 * manifest.input.shape.reduce((/** @type {number} */ a, /** @type {number} */ b) => a * b, 1); // float32 NCHW image
  return manifest.steps.map((/** @type {{ kind: string, function: string, output?: { bytes: number } }} */ step) => {
    let bytes = previous + (step.output?.bytes ?? 0);
    if ((step.kind === 'conv' || step.kind === 'linear') && weights[w]) {
      const t = weights[w++];
      // A Winograd layer reads its U (in f32, (m+2)² values per 3×3 filter), not the stored filters.
      const u = prepared.get(stepNumber(step.function));
      bytes += u ?? t.byteLength + extra(t);
    }
    previous = step.output?.bytes ?? previous;
    return bytes;
  });
}

/**
 * @param {{ label: string, rows: { description: string, macs: number, ms: number }[], bytes: number[] }[]} series
 * @param {{ ceilingGflops: number, machine: { cpu: string, cores: number, node: string, date: string, ceiling?: object } }} opts
 */
export function rooflineSvg(series, { ceilingGflops, machine }) {
  const points = series.flatMap((s, si) =>
    s.rows
      .map((r, i) => ({ series: si, label: r.description.split(' ')[0], gflops: (2 * r.macs) / (r.ms * 1e6), intensity: (2 * r.macs) / s.bytes[i], bytes: s.bytes[i], ms: r.ms, linear: /^fc\d/.test(r.description) }))
      .filter((p) => p.gflops > 0 && Number.isFinite(p.intensity)),
  );
  const streaming = points.filter((p) => p.linear);
  // GB/s of the fully-connected layers: bytes / ms / 1e6.
  const bandwidth = streaming.length ? Math.max(...streaming.map((p) => p.bytes / (p.ms * 1e6))) : 20;
  const W = 760;
  const H = 460;
  const left = 70;
  const right = 30;
  const top = 60;
  const bottom = 60;
  const [xMin, xMax] = [0.1, 1000];
  const [yMin, yMax] = [1, 1000];
  const x = (/** @type {number} */ v) => left + ((Math.log10(v) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * (W - left - right);
  const y = (/** @type {number} */ v) => H - bottom - ((Math.log10(v) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * (H - top - bottom);
  const ridge = ceilingGflops / bandwidth;
  const colours = ['#2b7bb9', '#e8a33d', '#27ae60', '#8e44ad'];
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="16" y="22" font-size="15" font-weight="600">Per-layer roofline: GFLOP/s (direct-convolution flops) against flops per byte</text>`,
    `<text x="16" y="40" fill="#555">${xml(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date.slice(0, 10)}; 1 thread, 1 image`)}</text>`,
  ];
  for (let e = -1; e <= 3; e++) {
    const v = 10 ** e;
    out.push(`<line x1="${x(v).toFixed(1)}" y1="${top}" x2="${x(v).toFixed(1)}" y2="${H - bottom}" stroke="#eee"/>`, `<text x="${x(v).toFixed(1)}" y="${H - bottom + 16}" text-anchor="middle" fill="#555">${v}</text>`);
  }
  for (let e = 0; e <= 3; e++) {
    const v = 10 ** e;
    out.push(`<line x1="${left}" y1="${y(v).toFixed(1)}" x2="${W - right}" y2="${y(v).toFixed(1)}" stroke="#eee"/>`, `<text x="${left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#555">${v}</text>`);
  }
  out.push(`<text x="${(left + W - right) / 2}" y="${H - 20}" text-anchor="middle">flops per byte (log)</text>`);
  out.push(`<text x="18" y="${(top + H - bottom) / 2}" transform="rotate(-90 18 ${(top + H - bottom) / 2})" text-anchor="middle">GFLOP/s (log)</text>`);
  // Memory roof up to the ridge, then the compute ceiling.
  out.push(`<path d="M${x(xMin).toFixed(1)} ${y(Math.max(yMin, bandwidth * xMin)).toFixed(1)} L${x(ridge).toFixed(1)} ${y(ceilingGflops).toFixed(1)} L${x(xMax).toFixed(1)} ${y(ceilingGflops).toFixed(1)}" fill="none" stroke="#c0392b" stroke-width="2"/>`);
  out.push(`<text x="${(x(xMax) - 4).toFixed(1)}" y="${(y(ceilingGflops) - 6).toFixed(1)}" text-anchor="end" fill="#c0392b">${xml(`f32x4 ceiling ${ceilingGflops} GFLOP/s (4×8 tile, no FMA, measured in this run)`)}</text>`);
  out.push(`<text x="${(x(ridge / 20) + 4).toFixed(1)}" y="${(y((bandwidth * ridge) / 20) - 8).toFixed(1)}" fill="#c0392b">${xml(`memory ${bandwidth.toFixed(1)} GB/s (fc layers' rate)`)}</text>`);
  for (const p of points) {
    const c = colours[p.series % colours.length];
    out.push(`<circle cx="${x(Math.min(xMax, Math.max(xMin, p.intensity))).toFixed(1)}" cy="${y(Math.min(yMax, Math.max(yMin, p.gflops))).toFixed(1)}" r="4" fill="${c}"/>`);
    out.push(`<text x="${(x(Math.min(xMax, Math.max(xMin, p.intensity))) + 6).toFixed(1)}" y="${(y(Math.min(yMax, Math.max(yMin, p.gflops))) + 4).toFixed(1)}" fill="${c}" font-size="10">${xml(p.label)}</text>`);
  }
  series.forEach((s, i) => out.push(`<circle cx="${left + 10}" cy="${top + 20 + 16 * i}" r="4" fill="${colours[i % colours.length]}"/>`, `<text x="${left + 20}" y="${top + 24 + 16 * i}">${xml(s.label)}</text>`));
  out.push(`<text x="16" y="${H - 4}" fill="#777" font-size="10">${xml('Winograd layers sit above the ceiling (~4× fewer multiplies than the flops counted). Bytes: weights + input and output maps.')}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** @param {string} s */
const xml = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
