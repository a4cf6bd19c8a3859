/**
 * Every SIMD kernel against its scalar reference (kernels: scalar-ref), layer by layer: both builds of
 * the same config and weights run side by side on the same input, and after each step the tensor the
 * step wrote is compared (interior and real channels of maps; the used part of vectors). The configs
 * are chosen to hit the awkward cases: row widths that leave 1, 2 or 3 pixels after the 4-pixel tiles,
 * channel counts that are not multiples of 8, odd maps that the floor-mode pool trims, 1–3 input
 * channels, average pools that shrink and that upsample, and FC widths that are not multiples of 4 or 8.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileModel } from '../compiler/pipeline.js';
import { loadInstance, loadModel } from '../runtime/load/node.js';
import type { ModelInstance } from '../runtime/instance.js';
import type { StepTensor } from '../runtime/format/manifest.js';
import { tempDir } from './helpers.js';
import { readConfigFile } from '../compiler/frontend/config/parse.js';
import { buildGraph } from '../compiler/graph/graph.js';
import { writeSafetensors } from '../compiler/frontend/safetensors/write.js';

const work = tempDir();

const CONFIGS = {
  'tails-and-padding': { blocks: [[3, 2, 12], [12, 1, 20]], inputSize: [23, 29], avgPool: [3, 5], classifier: [13], numClasses: 7 },
  'one-channel-upsample': { blocks: [[1, 1, 8], [8, 3, 16], [16, 1, 5]], inputSize: [17, 22], avgPool: [4, 4], classifier: [9, 11], numClasses: 3 },
  'two-channels-no-avgpool': { blocks: [[2, 1, 24], [24, 2, 8]], inputSize: [14, 10], avgPool: null, classifier: [], numClasses: 6 },
  'wide-rows': { blocks: [[3, 1, 16], [16, 1, 32], [32, 1, 32]], inputSize: [40, 66], avgPool: [2, 2], classifier: [40], numClasses: 10 },
  // Winograd blocks of 5 tiles (one 5-row GEMM tile); the 256→256 layer's filters are large enough for
  // blocks of 2 tile rows, so its last block is shorter (10 tiles = 2 × 5 rows, then 5 = 1 × 5).
  'five-row-tiles': { blocks: [[3, 1, 16], [16, 2, 256]], inputSize: [24, 40], avgPool: null, classifier: [], numClasses: 4 },
  // A 14×14 map whose pooled conv the cost model runs as F(5×5) with its pool as a step of its own.
  'odd-tiles-pool': { blocks: [[3, 1, 16], [16, 2, 64]], inputSize: [28, 28], avgPool: null, classifier: [], numClasses: 3 },
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
    const { simd, ref } = await simdAndReference(name, config, conv, { conv });
    expect(simd.steps.map((s) => s.info.kernel)).not.toEqual(ref.steps.map((s) => s.info.kernel));
    if (conv === 'winograd') expect(simd.steps.some((s) => s.info.kernel.includes('winograd'))).toBe(true);
    if (name === 'odd-tiles-pool' && conv === 'winograd') expect(simd.steps.map((s) => s.info.kernel).slice(-4, -1)).toEqual(['f32-conv3x3p1-winograd-f5x5-3x8-bias-relu-wasmsimd', 'f32-maxpool2x2-wasmsimd', 'f32-flatten-nchw-scalar']);
    compareSteps(simd, ref, conv === 'winograd' ? TOLERANCE.winograd : TOLERANCE.direct);
  });
});

// Each Winograd tile size forced on every layer that can take it (auto picks per layer, so a small
// test map might never get one): F(5×5) has odd tiles and takes only layers without a fused pool.
const FORCED_TILES = [
  ['tails-and-padding', 'f4x4'], ['tails-and-padding', 'f6x6'], ['five-row-tiles', 'f4x4'], ['five-row-tiles', 'f5x5'], ['five-row-tiles', 'f6x6'],
  ['one-channel-upsample', 'f5x5'], ['one-channel-upsample', 'f6x6'],
] as const;
describe.each(FORCED_TILES.map(([name, tile]) => [`${name} (${tile})`, name, tile] as const))('config %s', (_, name, tile) => {
  it('each SIMD step equals its scalar reference, and writes a zero frame', async () => {
    const { simd, ref, simdDir } = await simdAndReference(name, CONFIGS[name], tile, { conv: 'winograd', winogradTile: tile });
    expect(simd.steps.some((s) => s.info.kernel.includes(`winograd-${tile}-`))).toBe(true);
    // The 5-row GEMM tiles, and a last block shorter than the others, are really generated here.
    if (name === 'five-row-tiles' && tile === 'f4x4') expect(readFileSync(join(simdDir, 'model.ts'), 'utf8')).toContain('GEMM register tiles 10 tiles = 2 × 5 rows, 5 tiles = 1 × 5 rows');
    compareSteps(simd, ref, TOLERANCE.winograd);
  });
});

// The stream modes change when the GEMMs read U's panels, not what they sum, or in which order: forced
// on every Winograd layer that can take them (16 input channels cannot be chunked: prefetched instead),
// each is held to the scalar reference and, every step, to the plain build's bits.
const FORCED_STREAMS = [
  ['five-row-tiles', 'chunked'], ['five-row-tiles', 'prefetch'], ['odd-tiles-pool', 'chunked'], ['odd-tiles-pool', 'prefetch'],
] as const;
describe.each(FORCED_STREAMS.map(([name, stream]) => [`${name} (${stream})`, name, stream] as const))('config %s', (_, name, stream) => {
  it("each SIMD step equals its scalar reference, and the plain stream's bits", async () => {
    const { simd, ref, simdDir } = await simdAndReference(name, CONFIGS[name], stream, { conv: 'winograd', winogradStream: stream });
    const kernels = simd.steps.map((s) => s.info.kernel);
    expect(kernels.some((k) => k.endsWith(stream === 'chunked' ? '-wasmsimd-kc32' : '-wasmsimd-prefetch')), kernels.join(', ')).toBe(true);
    compareSteps(simd, ref, TOLERANCE.winograd);
    // The same build reloaded (fresh, NaN-filled arena), step by step against the plain stream's build.
    const plainDir = join(work, `${name}-plain-simd`);
    await compileModel({ configPath: join(work, `${name}.json`), outDir: plainDir, seed: 7, kernels: 'wasmsimd', conv: 'winograd', winogradStream: 'plain' });
    const plain = await loadDirtied(plainDir);
    expect(plain.steps.every((s) => !/-(kc\d+|prefetch)$/.test(s.info.kernel))).toBe(true);
    const streamed = await loadDirtied(simdDir);
    for (const [i, a] of streamed.steps.entries()) {
      const b = plain.steps[i];
      a.fn(0, a.workItems, 0);
      b.fn(0, b.workItems, 0);
      const got = interior(streamed.memory, a.info.output);
      expect(got.some((v) => v !== 0), `${a.info.kernel} wrote zeros only`).toBe(true);
      expect(Buffer.from(got.buffer).equals(Buffer.from(interior(plain.memory, b.info.output).buffer)), `${a.info.kernel} vs ${b.info.kernel}`).toBe(true);
    }
  });
});

/**
 * `config` compiled twice (seed 7): SIMD kernels with `options`, and the scalar reference; both loaded
 * with their arenas dirtied (kernels must not rely on memory starting out zeroed) and the same input.
 */
async function simdAndReference(name: string, config: object, label: string, options: Pick<Parameters<typeof compileModel>[0], 'conv' | 'winogradTile' | 'winogradStream'>): Promise<{ simd: ModelInstance; ref: ModelInstance; simdDir: string }> {
  const path = join(work, `${name}.json`);
  writeFileSync(path, JSON.stringify({ name, ...config }));
  const dirs = { simd: join(work, `${name}-${label}-simd`), ref: join(work, `${name}-${label}-ref`) };
  await compileModel({ configPath: path, outDir: dirs.simd, seed: 7, kernels: 'wasmsimd', ...options });
  await compileModel({ configPath: path, outDir: dirs.ref, seed: 7, kernels: 'scalar-ref' });
  return { simd: await loadDirtied(dirs.simd), ref: await loadDirtied(dirs.ref), simdDir: dirs.simd };
}

/** A compiled folder loaded with its arena filled with NaN (kernels must not rely on zeroed memory) and input 42. */
async function loadDirtied(dir: string): Promise<ModelInstance> {
  const inst = await loadInstance(dir);
  new Float32Array(inst.memory.buffer, inst.manifest.memory.arenaBase, inst.manifest.memory.arenaBytes / 4).fill(Number.NaN);
  fillInput(inst, 42);
  return inst;
}

/**
 * Runs every step of both builds side by side and compares each output, relative to the reference's
 * largest value; the SIMD step must also leave the zero frame of its output map zero. Where the SIMD
 * build runs a layer as two steps (a conv, then its pool: an odd Winograd tile), both run before the
 * comparison, matched by the shape the reference step writes.
 */
function compareSteps(simd: ModelInstance, ref: ModelInstance, bound: number): void {
  let i = 0;
  for (const b of ref.steps) {
    b.fn(0, b.workItems, 0);
    const want = interior(ref.memory, b.info.output);
    const shape = JSON.stringify(b.info.output.shape);
    let a = simd.steps[i++];
    for (let extra = 0; ; extra++) {
      a.fn(0, a.workItems, 0);
      expect(borderIsZero(simd.memory, a.info.output), `${a.info.kernel} border`).toBe(true);
      if (JSON.stringify(a.info.output.shape) === shape) break;
      expect(extra, `${a.info.kernel} writes ${JSON.stringify(a.info.output.shape)}, ${b.info.kernel} ${shape}`).toBe(0);
      a = simd.steps[i++];
    }
    const got = interior(simd.memory, a.info.output);
    let maxDiff = 0;
    let maxRef = 0;
    for (let k = 0; k < want.length; k++) {
      maxDiff = Math.max(maxDiff, Math.abs(got[k] - want[k]));
      maxRef = Math.max(maxRef, Math.abs(want[k]));
    }
    expect(Number.isFinite(maxDiff), `${a.info.kernel} wrote non-finite values`).toBe(true);
    expect(maxRef, `${a.info.kernel}: reference output is all zero (test would prove nothing)`).toBeGreaterThan(0);
    expect(maxDiff / maxRef, `${a.info.kernel} vs ${b.info.kernel}`).toBeLessThanOrEqual(bound);
  }
  expect(i, 'every SIMD step was run and compared').toBe(simd.steps.length);
}

/**
 * The classifier alone on `images` images (a 4-image GEMM tile plus the GEMV tail, for 5–7): the same
 * random vectors into the first fully-connected step of both builds, outputs compared image by image.
 */
function compareClassifierBatch(simd: ModelInstance, ref: ModelInstance, images: number, bound: number): void {
  // Each build has its own memory plan (Winograd scratch moves the arena), so addresses are per build.
  const run = (inst: ModelInstance): Float32Array[] => {
    const first = inst.steps.findIndex((s) => s.info.kind === 'linear');
    const input = inst.steps[first - 1].info.output;
    new Int32Array(inst.memory.buffer, inst.manifest.memory.params, 2).set([0, images]);
    const x = new Float32Array(inst.memory.buffer, input.offset, images * input.imageStride!);
    for (let n = 0; n < images; n++) for (let i = 0; i < input.shape[0]; i++) x[n * input.imageStride! + i] = Math.sin(1 + n * 31 + i * 0.37);
    for (const s of inst.steps.slice(first)) s.fn(0, s.workItems, 0);
    const out = inst.steps.at(-1)!.info.output;
    return Array.from({ length: images }, (_, n) => new Float32Array(inst.memory.buffer, out.offset + n * out.imageStride! * 4, out.shape[0]).slice());
  };
  const got = run(simd);
  const want = run(ref);
  for (let n = 0; n < images; n++) {
    const maxRef = Math.max(...want[n].map(Math.abs));
    const maxDiff = Math.max(...got[n].map((v, k) => Math.abs(v - want[n][k])));
    expect(maxRef, `image ${n}: reference output is all zero`).toBeGreaterThan(0);
    expect(maxDiff / maxRef, `classifier, image ${n} of ${images}`).toBeLessThanOrEqual(bound);
  }
}

// Every fully-connected output is summed in input order on every path (4-image tile, 1-image tile of 4
// blocks, 1 × 1 tail, scalar reference), so the deterministic build's classifier has no rounding of its
// own: SIMD equals the reference exactly, and an image's logits do not depend on the batch it ran in
// (what lets a server batch requests and return each the bits it would get alone).
describe.each(['f32', 'f16', 'int8'] as const)('the classifier computes the same bits whatever the batch (%s weights)', (dtype) => {
  // 13 features: two 8-feature blocks, so a thread's range of blocks is not a multiple of 4 and the 1 × 1 tail runs too.
  const config = { blocks: [[3, 1, 8], [8, 1, 16]], inputSize: [8, 8], avgPool: null, classifier: [37, 13], numClasses: 11 };
  it('SIMD equals the scalar reference bit for bit, on 1 to 9 images', async () => {
    const path = join(work, `batch-bits-${dtype}.json`);
    writeFileSync(path, JSON.stringify({ name: 'batch-bits', ...config }));
    const dirs = { simd: join(work, `batch-bits-${dtype}-simd`), ref: join(work, `batch-bits-${dtype}-ref`) };
    await compileModel({ configPath: path, outDir: dirs.simd, seed: 5, kernels: 'wasmsimd', weightsDtype: dtype });
    await compileModel({ configPath: path, outDir: dirs.ref, seed: 5, kernels: 'scalar-ref', weightsDtype: dtype });
    const simd = await loadInstance(dirs.simd, { build: 'deterministic' });
    const ref = await loadInstance(dirs.ref);
    for (let images = 1; images <= 9; images++) compareClassifierBatch(simd, ref, images, 0);
  });
  it('each image of a batch of 9 gets the logits it gets alone, bit for bit, on 1 and 2 threads', async () => {
    const dir = join(work, `batch-bits-${dtype}-simd`);
    for (const threads of [1, 2]) {
      const model = await loadModel(dir, { threads, build: 'deterministic' });
      const [c, h, w] = model.inputShape;
      const image = c * h * w;
      const x = new Float32Array(9 * image).map((_, i) => Math.sin(i * 0.13) * 2);
      const batch = await model.infer(x, 9);
      for (let n = 0; n < 9; n++) {
        const alone = await model.infer(x.slice(n * image, (n + 1) * image), 1);
        expect(Buffer.from(alone.buffer).equals(Buffer.from(batch.slice(n * model.numClasses, (n + 1) * model.numClasses).buffer)), `image ${n}, ${threads} thread(s)`).toBe(true);
      }
      model.dispose();
    }
  });
});

// The fully-connected kernels that widen f16 / int8 weights in registers, against scalar references
// that convert element by element (the f16 one from the format's definition, not the SIMD bit trick).
describe.each(['f16', 'int8'] as const)('--weights-dtype %s', (dtype) => {
  // Winograd layers also check the load-time filter transform (prepare…) from quantised 3×3 filters.
  it.each(Object.keys(CONFIGS).flatMap((name) => (['direct', 'winograd'] as const).map((conv) => [name, conv] as const)))('%s (%s): each SIMD step equals its scalar reference', async (name, conv) => {
    const path = join(work, `${name}.json`);
    writeFileSync(path, JSON.stringify({ name, ...CONFIGS[name as keyof typeof CONFIGS] }));
    const dirs = { simd: join(work, `${name}-${dtype}-${conv}-simd`), ref: join(work, `${name}-${dtype}-ref`) };
    await compileModel({ configPath: path, outDir: dirs.simd, seed: 7, kernels: 'wasmsimd', conv, weightsDtype: dtype });
    await compileModel({ configPath: path, outDir: dirs.ref, seed: 7, kernels: 'scalar-ref', weightsDtype: dtype });
    const simd = await loadInstance(dirs.simd);
    const ref = await loadInstance(dirs.ref);
    expect(simd.steps.filter((s) => s.info.kind === 'linear').every((s) => s.info.kernel.startsWith(dtype === 'f16' ? 'f32-f16w-gemm' : 'f32-qc8w-gemm'))).toBe(true);
    if (conv === 'winograd') expect(simd.manifest.prepare?.length).toBeGreaterThan(0);
    // Dirty the arenas and the prepared filters, then prepare again: nothing may rely on zeroed memory.
    for (const inst of [simd, ref]) {
      const { memory: m, weights: w } = inst.manifest;
      new Float32Array(inst.memory.buffer, m.arenaBase, m.arenaBytes / 4).fill(Number.NaN);
      const preparedStart = m.weightsBase + w.payloadBytes;
      new Float32Array(inst.memory.buffer, preparedStart, (m.pages * 65536 - preparedStart) / 4).fill(Number.NaN);
      const again = await WebAssembly.instantiate(inst.module, { env: { memory: inst.memory } });
      for (const p of inst.manifest.prepare ?? []) (again.exports[p.function] as (a: number, b: number, c: number) => void)(0, p.workItems, 0);
    }
    fillInput(simd, 42);
    fillInput(ref, 42);
    compareSteps(simd, ref, conv === 'winograd' ? TOLERANCE.winograd : TOLERANCE.direct);
    compareClassifierBatch(simd, ref, 7, TOLERANCE.direct);
  });

  it('edge values, feature by feature: subnormal halves, an all-zero row, ±65504, mixed magnitudes', async () => {
    // One linear layer (classifier []) with zero bias, so each logit is exactly its row's dot product.
    const config = { name: 'edges', blocks: [[2, 1, 8]], inputSize: [4, 4], avgPool: null, classifier: [], numClasses: 12 };
    const path = join(work, 'edges.json');
    writeFileSync(path, JSON.stringify(config));
    const graph = buildGraph(readConfigFile(path));
    const I = 32; // 8 channels × 2 × 2
    const rows: Array<(i: number) => number> = [
      (i) => (1 + (i % 5)) * 6e-8, // subnormal halves (2^-24 … 5·2^-24)
      (i) => -(1 + (i % 7)) * 5.9e-6, // negative subnormal halves
      () => 0, // all-zero row: int8 scale 1, every q 0
      (i) => (i % 2 ? 65504 : -65504), // the largest halves
      (i) => [6e-8, -0, 65504, 1e-3, -0.25, 3.1e-5][i % 6], // everything in one row
    ];
    const tensors = graph.params.map((p) => {
      const n = p.shape.reduce((a, b) => a * b, 1);
      let data = new Float32Array(n).map((_, i) => Math.sin(1 + i * 0.7) * 0.3);
      if (p.key === 'classifier.0.weight') data = data.map((v, k) => (Math.floor(k / I) < rows.length ? rows[Math.floor(k / I)](k % I) : v));
      if (p.key === 'classifier.0.bias') data.fill(0);
      return { key: p.key, shape: [...p.shape], data };
    });
    const weights = join(work, 'edges.safetensors');
    writeSafetensors(weights, tensors);
    const dirs = { simd: join(work, `edges-${dtype}-simd`), ref: join(work, `edges-${dtype}-ref`) };
    await compileModel({ configPath: path, weightsPath: weights, outDir: dirs.simd, kernels: 'wasmsimd', weightsDtype: dtype });
    await compileModel({ configPath: path, weightsPath: weights, outDir: dirs.ref, kernels: 'scalar-ref', weightsDtype: dtype });
    const simd = await loadInstance(dirs.simd);
    const ref = await loadInstance(dirs.ref);
    fillInput(simd, 3);
    fillInput(ref, 3);
    for (const inst of [simd, ref]) for (const s of inst.steps) s.fn(0, s.workItems, 0);
    const got = interior(simd.memory, simd.steps.at(-1)!.info.output);
    const want = interior(ref.memory, ref.steps.at(-1)!.info.output);
    for (let o = 0; o < want.length; o++) {
      if (o < rows.length && o !== 2) expect(want[o], `feature ${o} is non-zero`).not.toBe(0);
      expect(Math.abs(got[o] - want[o]), `feature ${o}: ${got[o]} vs ${want[o]}`).toBeLessThanOrEqual(1e-6 * Math.abs(want[o]));
    }
    expect(got[2]).toBe(0);
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
      s.fn(0, s.workItems, 0);
      const p = pieces.steps[i];
      // Uneven pieces, last first, to catch any dependence on call order.
      const cuts = [0, 1, Math.floor(p.workItems / 2), p.workItems].filter((v, k, arr) => k === 0 || v > arr[k - 1]);
      for (let k = cuts.length - 2; k >= 0; k--) p.fn(cuts[k], cuts[k + 1], 0);
      expect(interior(pieces.memory, p.info.output)).toEqual(interior(whole.memory, s.info.output));
    }
  });
});
