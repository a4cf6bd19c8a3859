// @ts-check
/**
 * Small helpers shared by the benchmark runner, its engine workers and the layer breakdown.
 * Plain ESM + JSDoc so the benchmark needs no build step of its own (it imports vggc from ../dist/).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = dirname(BENCH_DIR);
export const CACHE_DIR = join(BENCH_DIR, 'cache');
export const RESULTS_DIR = join(BENCH_DIR, 'results');

/** Imports a module of the built project (dist/), with a clear message when `npm run build` has not run. */
export async function importDist(rel) {
  const path = join(ROOT, 'dist', rel);
  if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run build\` first (the benchmark uses the compiled vggc in dist/)`);
  return import(path);
}

/** Median of a non-empty list: the runtime's own (runtime/profile-node.ts), which `vggc bench` reports too. */
export const { median } = await importDist('runtime/profile-node.js');

/**
 * The benchmark input: `n` images N×C×H×W, deterministic pseudo-random values in [-2, 2) (roughly a
 * normalised image's range), identical in every worker so that logits can be compared across engines.
 */
export function benchInput(n, c, h, w) {
  const x = new Float32Array(n * c * h * w);
  for (let i = 0; i < x.length; i++) {
    let v = Math.imul(i + 0x9e3779b9, 0x85ebca6b);
    v ^= v >>> 13;
    v = Math.imul(v, 0xc2b2ae35);
    v ^= v >>> 16;
    x[i] = ((v >>> 0) / 0x100000000) * 4 - 2;
  }
  return x;
}

/** NCHW → NHWC copy. */
export function nchwToNhwc(x, n, c, h, w) {
  const y = new Float32Array(x.length);
  for (let b = 0; b < n; b++)
    for (let ch = 0; ch < c; ch++)
      for (let yy = 0; yy < h; yy++) {
        const src = ((b * c + ch) * h + yy) * w;
        const dst = (b * h + yy) * w * c + ch;
        for (let xx = 0; xx < w; xx++) y[dst + xx * c] = x[src + xx];
      }
  return y;
}

/** max |a − b| / max |b|. */
export function relError(a, b) {
  let d = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

export function argmaxRows(v, cols) {
  const out = [];
  for (let r = 0; r < v.length / cols; r++) {
    let best = 0;
    for (let j = 1; j < cols; j++) if (v[r * cols + j] > v[r * cols + best]) best = j;
    out.push(best);
  }
  return out;
}
