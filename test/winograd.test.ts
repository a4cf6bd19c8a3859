/**
 * The Winograd matrices against the definition: for random α×α input tiles and 3×3 filters,
 * Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A must equal the direct 3×3 correlation (valid, m×m outputs) in float64.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig, readConfigFile } from '../compiler/frontend/config/parse.js';
import { planFromConfig } from '../compiler/pipeline.js';
import { describeStep, type WinogradConvStep } from '../compiler/program.js';
import type { WinogradStreamChoice } from '../compiler/schedule/winograd-plan.js';
import { rowTilesOf, slabBytes } from '../compiler/schedule/winograd-plan.js';
import { transformFilter, WINOGRAD_TRANSFORMS } from '../compiler/winograd/winograd.js';
import { combo, pairedColumns, pairedRows } from '../compiler/codegen/kernels/winograd-transforms.js';
import { range } from '../compiler/codegen/text.js';

function mat(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): number[][] {
  return a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
}
const T = (a: readonly (readonly number[])[]): number[][] => a[0].map((_, j) => a.map((r) => r[j]));

describe.each(Object.values(WINOGRAD_TRANSFORMS))('F($m×$m, 3×3)', (t) => {
  it('equals direct convolution on random tiles', () => {
    const a = t.alpha;
    expect(a).toBe(t.m + 2);
    let seed = 1;
    const rnd = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
    for (let trial = 0; trial < 20; trial++) {
      const d = Array.from({ length: a }, () => Array.from({ length: a }, rnd));
      const g = Array.from({ length: 9 }, rnd);
      const u = transformFilter(g, t);
      const v = mat(mat(t.BT, d), T(t.BT));
      const m = v.map((row, i) => row.map((x, j) => x * u[i * a + j]));
      const y = mat(mat(t.AT, m), T(t.AT));
      for (let i = 0; i < t.m; i++) for (let j = 0; j < t.m; j++) {
        let direct = 0;
        for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) direct += d[i + ky][j + kx] * g[ky * 3 + kx];
        expect(y[i][j]).toBeCloseTo(direct, 10);
      }
    }
  });
});

describe('GEMM register tiles of a Winograd block (rowTilesOf)', () => {
  it('covers every tile exactly once, with no padded row, in 4- and 5-row tiles from 12 tiles on', () => {
    for (let tiles = 1; tiles <= 400; tiles++) {
      const r = rowTilesOf(tiles);
      expect(r.tiles).toBe(tiles);
      expect(4 * r.fours + 5 * r.fives + r.tail).toBe(tiles);
      expect(r.tail).toBeLessThan(4);
      if (tiles >= 12) expect(r.tail).toBe(0);
      // A narrower tail only when 4- and 5-row tiles cannot make the count (1, 2, 3, 6, 7, 11).
      expect(r.tail > 0).toBe([1, 2, 3, 6, 7, 11].includes(tiles));
    }
    // As few 5-row tiles (which V8 before 13 spills) as the count allows: fewer than 4, or 4 of them would be 5 fours.
    for (let tiles = 12; tiles <= 400; tiles++) expect(rowTilesOf(tiles).fives).toBeLessThan(4);
    expect(rowTilesOf(49)).toEqual({ tiles: 49, fours: 11, fives: 1, tail: 0 });
    expect(rowTilesOf(98)).toEqual({ tiles: 98, fours: 22, fives: 2, tail: 0 });
    expect(rowTilesOf(25)).toEqual({ tiles: 25, fours: 5, fives: 1, tail: 0 });
    expect(rowTilesOf(9)).toEqual({ tiles: 9, fours: 1, fives: 1, tail: 0 });
  });
});

describe('how a Winograd GEMM streams U (chooseStream), on VGG-11', () => {
  /** Layer → "tile stream chunk" as the scheduler plans VGG-11 (examples/vgg11.json) with `stream`. */
  function streams(stream: WinogradStreamChoice = 'auto'): Record<string, string> {
    const program = planFromConfig(readConfigFile('examples/vgg11.json'), 'vgg11.json', { winogradStream: stream });
    const winograd = program.steps.filter((s): s is WinogradConvStep => s.kind === 'conv-winograd');
    return Object.fromEntries(winograd.map((s) => {
      const w = s.schedule.winograd;
      return [describeStep(s).split(' ')[0], `${w.transform.name} ${w.stream}${w.stream === 'chunked' ? ` ${w.reductionChunk}` : ''}`];
    }));
  }

  it('plain where U fits in 8 MiB, chunked where a block has at most 2 register tiles per panel, prefetched above', () => {
    // The choices measured on VGG-11 (docs/performance.md, "Streaming U"); a change of the rules or of
    // tuning.ts's thresholds shows here, and wants a new measurement.
    expect(streams()).toEqual({
      conv2_1: 'f6x6 plain', // U 2.4 MB
      conv3_1: 'f4x4 plain', // 4.7 MB
      conv3_2: 'f6x6 prefetch', // 16.8 MB, 25-tile blocks: 6 register tiles
      conv4_1: 'f6x6 prefetch', // 33.6 MB
      conv4_2: 'f6x6 prefetch', // 67.1 MB
      conv5_1: 'f5x5 chunked 32', // 51.4 MB, 9-tile blocks: 2 register tiles
      conv5_2: 'f5x5 chunked 32',
    });
  });

  it('a forced mode applies to every layer, and chunked only where Cin splits into several chunks of 32', () => {
    expect(new Set(Object.values(streams('plain')).map((v) => v.split(' ')[1]))).toEqual(new Set(['plain']));
    expect(new Set(Object.values(streams('prefetch')).map((v) => v.split(' ')[1]))).toEqual(new Set(['prefetch']));
    // VGG-11's Winograd layers have 64–512 input channels: all can be chunked.
    expect(new Set(Object.values(streams('chunked')).map((v) => v.split(' ').slice(1).join(' ')))).toEqual(new Set(['chunked 32']));
  });

  it('a forced chunked stream that a layer\'s channels cannot take is prefetched instead', () => {
    // 48 input channels are not a multiple of the 32-channel chunk, and 32 would be a single chunk.
    const config = parseConfig(JSON.stringify({ name: 'odd', blocks: [[3, 1, 48], [48, 1, 32], [32, 1, 64], [64, 1, 64], [64, 1, 64]], inputSize: [64, 64], batchNorm: false, classifier: [16], numClasses: 10 }));
    const winograd = planFromConfig(config, 'odd.json', { winogradStream: 'chunked', conv: 'winograd' }).steps.filter((s): s is WinogradConvStep => s.kind === 'conv-winograd');
    const byInput = new Map(winograd.map((s) => [s.schedule.layer.conv.input.c, s.schedule.winograd.stream]));
    expect(byInput.get(48)).toBe('prefetch');
    expect(byInput.get(32)).toBe('prefetch');
    expect(byInput.get(64)).toBe('chunked');
  });
});

describe('frequency slabs of V and M (slabBytes): one L1 set per frequency', () => {
  /** The L1 set (64 sets of 64-byte lines, as on every x86-64 core vggc targets) of byte address a. */
  const setOf = (a: number): number => Math.floor(a / 64) % 64;

  it('pads to an odd number of cache lines, never below the data, and only by one line', () => {
    for (const bytes of [1, 64, 128, 1152, 9728, 51200, 51264, 19456, 2048 * 25]) {
      const slab = slabBytes(bytes);
      expect(slab % 64).toBe(0);
      expect((slab / 64) % 2).toBe(1);
      expect(slab).toBeGreaterThanOrEqual(bytes);
      expect(slab - Math.ceil(bytes / 64) * 64).toBeLessThanOrEqual(64);
    }
  });

  it("puts the α² frequencies of every VGG-11 Winograd layer's V and M in α² different sets", () => {
    const program = planFromConfig(readConfigFile('examples/vgg11.json'), 'vgg11.json', {});
    const winograd = program.steps.filter((s): s is WinogradConvStep => s.kind === 'conv-winograd');
    expect(winograd.length).toBe(7);
    for (const s of winograd) {
      const w = s.schedule.winograd;
      const points = w.transform.alpha ** 2;
      for (const [slab, channels] of [[w.vSlabBytes, s.schedule.inStride], [w.mSlabBytes, s.schedule.outStride]]) {
        expect(slab).toBeGreaterThanOrEqual(w.tilesPerBlock * channels * 4);
        // Unpadded, 25 or 50 tiles × 256 or 512 channels (51,200 bytes) put all 64 frequencies of
        // conv3_2 and conv4_x in 2 sets.
        expect(new Set(Array.from({ length: points }, (_, xi) => setOf(xi * slab))).size, `${describeStep(s)}`).toBe(points);
      }
      // The scratch the plan allocates holds both padded buffers.
      expect(s.scratch.bytesPerWorker).toBeGreaterThanOrEqual(points * (w.vSlabBytes + w.mSlabBytes));
    }
    // The case that asked for it: conv4_2's unpadded slab (its plan's tiles × Cin floats) puts its 64
    // frequencies in 2 sets; padded by one line, in 64.
    const conv4_2 = winograd.find((s) => s.schedule.layer.conv.id === 'conv4_2');
    if (!conv4_2) throw new Error('VGG-11 has no conv4_2 Winograd step');
    const unpadded = conv4_2.schedule.winograd.tilesPerBlock * conv4_2.schedule.inStride * 4;
    expect(unpadded).toBe(51200);
    expect(new Set(Array.from({ length: 64 }, (_, xi) => setOf(xi * unpadded))).size).toBe(2);
    expect(conv4_2.schedule.winograd.vSlabBytes).toBe(unpadded + 64);
  });
});

/**
 * The generated transform code (codegen/kernels/winograd-transforms.ts) shares partial sums between
 * rows of Bᵀ and columns of Aᵀ. Evaluated in float64 (each f32x4 operation on one number), its
 * lines must give Bᵀx and Aᵀx for random x, and cost fewer operations than one sum per output.
 */
describe.each(Object.values(WINOGRAD_TRANSFORMS))('generated F($m×$m) transform lines', (t) => {
  /** Runs `const …;` lines with f32x4 as scalar float64 arithmetic; returns the named values. */
  const run = (lines: readonly string[], inputs: Record<string, number>, names: readonly string[]): number[] => {
    const f32x4 = { add: (a: number, b: number) => a + b, sub: (a: number, b: number) => a - b, mul: (a: number, b: number) => a * b, neg: (a: number) => -a, splat: (a: number) => a };
    const body = `${lines.join('\n').replaceAll('<f32>', '')}\nreturn [${names.join(', ')}];`;
    return new Function('f32x4', ...Object.keys(inputs), body)(f32x4, ...Object.values(inputs)) as number[];
  };
  const operations = (lines: readonly string[]): number => lines.join('\n').split('f32x4.').length - 1 - (lines.join('\n').split('f32x4.splat').length - 1);
  let seed = 7;
  const rnd = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 2 - 1;
  const a = t.alpha;

  it('pairedRows computes Bᵀx', () => {
    const lines = pairedRows(t.BT, (r) => `x${r}`, (i) => `y${i}`, 'k');
    for (let trial = 0; trial < 10; trial++) {
      const x = Array.from({ length: a }, rnd);
      const got = run(lines, Object.fromEntries(x.map((v, r) => [`x${r}`, v])), range(a).map((i) => `y${i}`));
      const want = t.BT.map((row) => row.reduce((s, k, r) => s + k * x[r], 0));
      got.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(1e-12));
    }
    const separate = t.BT.map((row) => `  const z = ${combo(row.map((k, r) => [k, `x${r}`] as const))};`);
    expect(operations(lines)).toBeLessThan(operations(separate));
  });

  it('pairedColumns computes Aᵀx', () => {
    const lines = pairedColumns(t.AT, (c) => `x${c}`, (i) => `y${i}`, 'k');
    for (let trial = 0; trial < 10; trial++) {
      const x = Array.from({ length: a }, rnd);
      const got = run(lines, Object.fromEntries(x.map((v, c) => [`x${c}`, v])), range(t.m).map((i) => `y${i}`));
      const want = t.AT.map((row) => row.reduce((s, k, c) => s + k * x[c], 0));
      got.forEach((v, i) => expect(Math.abs(v - want[i])).toBeLessThan(1e-12));
    }
    const separate = t.AT.map((row) => `  const z = ${combo(row.map((k, c) => [k, `x${c}`] as const))};`);
    expect(operations(lines)).toBeLessThan(operations(separate));
  });
});
