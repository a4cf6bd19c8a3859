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

/**
 * A compiled folder loaded for step-by-step timing (bench/ab.mjs, bench/threads.mjs): its instance,
 * warmed up, on `threads` threads; one runner per step; and resetInput(), which every run must call
 * first, as infer() does, because the planner reuses the input's memory once it has been read.
 * @param {string} dir
 * @param {number} threads
 */
export async function loadForSteps(dir, threads) {
  const { loadInstance } = await importDist('runtime/load/node.js');
  const { stepRunners, warmUp } = await importDist('runtime/steps.js');
  const { runParams } = await importDist('runtime/instance.js');
  const { WorkerPool } = await importDist('runtime/threads/node-pool.js');
  const inst = await loadInstance(dir, {});
  const pool = threads > 1 ? await WorkerPool.start(inst.module, inst.memory, inst.steps.map((/** @type {any} */ s) => s.info.function), threads) : undefined;
  await warmUp(inst, pool);
  const [c, h, w] = inst.manifest.input.shape;
  const input = benchInput(1, c, h, w);
  const inputView = new Float32Array(inst.memory.buffer, inst.manifest.input.offset, c * h * w);
  const params = runParams(inst.memory, inst.manifest);
  return {
    inst,
    /** @type {(() => void | Promise<void>)[]} */
    runners: stepRunners(inst, pool),
    resetInput() {
      inputView.set(input);
      params.image(0);
      params.images(1);
    },
    close: async () => pool?.terminate(),
  };
}

/**
 * One inference step by step: each step's ms (in order) and the whole run's, measured back to back.
 * @param {(() => void | Promise<void>)[]} runners
 */
export async function timeSteps(runners) {
  const t0 = performance.now();
  let t = t0;
  /** @type {number[]} */
  const steps = [];
  for (const run of runners) {
    const waiting = run();
    if (waiting) await waiting;
    const now = performance.now();
    steps.push(now - t);
    t = now;
  }
  return { steps, total: t - t0 };
}
