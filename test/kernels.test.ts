/**
 * Every SIMD kernel against its scalar reference (kernels: scalar-ref), layer by layer: both builds of
 * the same config and weights run side by side on the same input, and after each step the tensor the
 * step wrote is compared (interior and real channels of maps; the used part of vectors). The configs
 * are chosen to hit the awkward cases: row widths that leave 1, 2 or 3 pixels after the 4-pixel tiles,
 * channel counts that are not multiples of 8, odd maps that the floor-mode pool trims, 1–3 input
 * channels, average pools that shrink and that upsample, and FC widths that are not multiples of 4 or 8.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileModel } from '../compiler/pipeline.js';
import { loadInstance } from '../runtime/load-node.js';
import type { ModelInstance } from '../runtime/model.js';
import type { StepTensor } from '../runtime/manifest.js';
import { tempDir } from './helpers.js';

const work = tempDir();

const CONFIGS = {
  'tails-and-padding': { blocks: [[3, 2, 12], [12, 1, 20]], inputSize: [23, 29], avgPool: [3, 5], classifier: [13], numClasses: 7 },
  'one-channel-upsample': { blocks: [[1, 1, 8], [8, 3, 16], [16, 1, 5]], inputSize: [17, 22], avgPool: [4, 4], classifier: [9, 11], numClasses: 3 },
  'two-channels-no-avgpool': { blocks: [[2, 1, 24], [24, 2, 8]], inputSize: [14, 10], avgPool: null, classifier: [], numClasses: 6 },
  'wide-rows': { blocks: [[3, 1, 16], [16, 1, 32], [32, 1, 32]], inputSize: [40, 66], avgPool: [2, 2], classifier: [40], numClasses: 10 },
} as const;

function interior(mem: WebAssembly.Memory, t: StepTensor): Float32Array {
  const all = new Float32Array(mem.buffer, t.offset, t.bytes / 4);
  if (t.layout === 'vector') return all.slice(0, t.shape[0]);
  if (t.layout === 'nchw') return all.slice(0, t.shape[0] * t.shape[1] * t.shape[2]);
  const [c, h, w] = t.shape;
  const stride = t.channelStride!;
  const cols = t.cols!;
  const out = new Float32Array(c * h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) for (let ch = 0; ch < c; ch++) out[(y * w + x) * c + ch] = all[((y + 1) * cols + x + 1) * stride + ch];
  return out;
}

/** The zero frame of a stored map: border and Winograd margin (the next layer reads it as padding). */
function borderIsZero(mem: WebAssembly.Memory, t: StepTensor): boolean {
  if (t.layout !== 'nhwc-pad1') return true;
  const [, h, w] = t.shape;
  const stride = t.channelStride!;
  const rows = t.rows!;
  const cols = t.cols!;
  const all = new Float32Array(mem.buffer, t.offset, t.bytes / 4);
  for (let y = 0; y < rows; y++) for (let x = 0; x < cols; x++) {
    if (y > 0 && y <= h && x > 0 && x <= w) continue;
    for (let ch = 0; ch < stride; ch++) if (all[(y * cols + x) * stride + ch] !== 0) return false;
  }
  return true;
}

function fillInput(inst: ModelInstance, seed: number): void {
  const [c, h, w] = inst.manifest.input.shape;
  const x = new Float32Array(inst.memory.buffer, inst.manifest.input.offset, c * h * w);
  let s = seed >>> 0;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = s / 2 ** 32 - 0.25;
  }
}

/**
 * Direct SIMD kernels do the reference's arithmetic in the same order (same rounding); Winograd
 * reaches the same sums along another route, so builds with Winograd layers (and every step after
 * one, which starts from slightly different activations) are held to the float32 error of the transforms.
 */
const TOLERANCE = { direct: 1e-6, winograd: 2e-5 };

describe.each(Object.entries(CONFIGS).flatMap(([name, config]) => (['direct', 'winograd'] as const).map((conv) => [`${name} (${conv})`, name, config, conv] as const)))('config %s', (_, name, config, conv) => {
  it('each SIMD step equals its scalar reference, and writes a zero frame', async () => {
    const path = join(work, `${name}.json`);
    writeFileSync(path, JSON.stringify({ name, ...config }));
    const dirs = { simd: join(work, `${name}-${conv}-simd`), ref: join(work, `${name}-${conv}-ref`) };
    await compileModel({ configPath: path, outDir: dirs.simd, seed: 7, kernels: 'wasmsimd', conv });
    await compileModel({ configPath: path, outDir: dirs.ref, seed: 7, kernels: 'scalar-ref' });
    const simd = await loadInstance(dirs.simd);
    const ref = await loadInstance(dirs.ref);
    // Dirty the arenas first: kernels must not rely on memory starting out zeroed.
    for (const inst of [simd, ref]) new Float32Array(inst.memory.buffer, inst.manifest.memory.arenaBase, inst.manifest.memory.arenaBytes / 4).fill(Number.NaN);
    fillInput(simd, 42);
    fillInput(ref, 42);
    expect(simd.steps.map((s) => s.info.kernel)).not.toEqual(ref.steps.map((s) => s.info.kernel));
    if (conv === 'winograd') expect(simd.steps.some((s) => s.info.kernel.includes('winograd'))).toBe(true);
    for (let i = 0; i < simd.steps.length; i++) {
      const a = simd.steps[i];
      const b = ref.steps[i];
      a.fn(0, a.workItems);
      b.fn(0, b.workItems);
      const got = interior(simd.memory, a.info.output);
      const want = interior(ref.memory, b.info.output);
      let maxDiff = 0;
      let maxRef = 0;
      for (let k = 0; k < want.length; k++) {
        maxDiff = Math.max(maxDiff, Math.abs(got[k] - want[k]));
        maxRef = Math.max(maxRef, Math.abs(want[k]));
      }
      expect(Number.isFinite(maxDiff), `${a.info.kernel} wrote non-finite values`).toBe(true);
      expect(maxRef, `${a.info.kernel}: reference output is all zero (test would prove nothing)`).toBeGreaterThan(0);
      const bound = conv === 'winograd' ? TOLERANCE.winograd : TOLERANCE.direct;
      expect(maxDiff / maxRef, `${a.info.kernel} vs ${b.info.kernel}`).toBeLessThanOrEqual(bound);
      expect(borderIsZero(simd.memory, a.info.output), `${a.info.kernel} border`).toBe(true);
    }
  });
});

describe('work ranges', () => {
  it('running a layer in pieces gives the same result as in one call', async () => {
    const path = join(work, 'pieces.json');
    writeFileSync(path, JSON.stringify({ blocks: [[3, 1, 16], [16, 2, 24]], inputSize: [18, 21], avgPool: [2, 2], classifier: [17], numClasses: 5 }));
    const dir = join(work, 'pieces');
    await compileModel({ configPath: path, outDir: dir, seed: 3, conv: 'winograd' });
    const whole = await loadInstance(dir);
    const pieces = await loadInstance(dir);
    fillInput(whole, 5);
    fillInput(pieces, 5);
    for (let i = 0; i < whole.steps.length; i++) {
      const s = whole.steps[i];
      s.fn(0, s.workItems);
      const p = pieces.steps[i];
      // Uneven pieces, last first, to catch any dependence on call order.
      const cuts = [0, 1, Math.floor(p.workItems / 2), p.workItems].filter((v, k, arr) => k === 0 || v > arr[k - 1]);
      for (let k = cuts.length - 2; k >= 0; k--) p.fn(cuts[k], cuts[k + 1]);
      expect(interior(pieces.memory, p.info.output)).toEqual(interior(whole.memory, s.info.output));
    }
  });
});
