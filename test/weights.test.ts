// Weights: safetensors reading (dtypes, key layouts), seeded random init, and packing into weight shards.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ParamTensor } from '../compiler/graph/graph.js';
import { f16ToF32Table, f32ToBf16Bits, f32ToF16Bits } from '../compiler/weights/half.js';
import { type PackedTensor, packedByteLength, type WeightLayout } from '../compiler/weights/layout.js';
import { packWeights } from '../compiler/weights/pack.js';
import { ShardWriter, shardFileName } from '../compiler/weights/shards.js';
import { crc32Js } from '../compiler/frontend/pytorch/crc32-js.js';
import { xxh64Reference } from './reference/xxh64.js';
import * as zlib from 'node:zlib';
import { int8Scale, quantizeInt8, roundHalfEven } from '../compiler/weights/quantize.js';
import { seededRandomWeights } from '../compiler/weights/random.js';
import { openSafetensors } from '../compiler/frontend/safetensors/read.js';
import { writeSafetensors } from '../compiler/frontend/safetensors/write.js';
import type { WeightSource } from '../compiler/weights/source.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vggc-weights-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A tiny VGG: one conv (2→3 channels), one linear (27→4), keys as graph.ts names them. */
const params: ParamTensor[] = [
  { key: 'features.0.weight', notebookKey: 'conv_backbone.features.0.conv_block.0.weight', shape: [3, 2, 3, 3], init: 'kaiming-normal-fan-out-relu' },
  { key: 'features.0.bias', notebookKey: 'conv_backbone.features.0.conv_block.0.bias', shape: [3], init: 'zeros' },
  { key: 'classifier.0.weight', notebookKey: 'classifier.0.weight', shape: [4, 27], init: 'normal-0.01' },
  { key: 'classifier.0.bias', notebookKey: 'classifier.0.bias', shape: [4], init: 'zeros' },
];
const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Deterministic test data (an LCG), so failures reproduce. */
function data(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = (x / 2 ** 32 - 0.5) * scale;
  }
  return out;
}

/** Round half to even. */
function rne(y: number): number {
  const f = Math.floor(y);
  const d = y - f;
  return d > 0.5 || (d === 0.5 && f % 2 !== 0) ? f + 1 : f;
}
/**
 * Rounds values with magnitude in [0.25, 0.5) as storing them in `dtype` would, by an independent
 * route: in that binade the dtype's ulp is 2^-2 · 2^-(mantissa bits), and scaling by it is exact.
 */
const roundToDtype = (v: Float32Array, dtype: 'F32' | 'F16' | 'BF16') => {
  const scale = 2 ** ((dtype === 'F16' ? 10 : 7) + 2);
  return dtype === 'F32' ? v : v.map((x) => rne(x * scale) / scale);
};

describe('half precision conversion', () => {
  it('F16: every finite half survives half → float32 → half exactly', () => {
    const table = f16ToF32Table();
    for (let h = 0; h < 65536; h++) {
      if ((h & 0x7c00) === 0x7c00 && h & 0x3ff) continue; // NaN payloads need not survive
      expect(f32ToF16Bits(table[h])).toBe(h);
    }
  });
  it('F16: decodes and rounds known values (ties to even, subnormals, overflow)', () => {
    const table = f16ToF32Table();
    expect(table[0x3c00]).toBe(1);
    expect(table[0xc000]).toBe(-2);
    expect(table[0x7bff]).toBe(65504);
    expect(table[0x0001]).toBe(2 ** -24);
    expect(table[0x7c00]).toBe(Infinity);
    expect(Number.isNaN(table[0x7e00])).toBe(true);
    expect(f32ToF16Bits(1 / 3)).toBe(0x3555);
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even (down)
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // tie between 65504 and 2^16 → Inf
    expect(f32ToF16Bits(2 ** -25)).toBe(0); // tie between 0 and the smallest subnormal
    expect(f32ToF16Bits(1.5 * 2 ** -25)).toBe(1);
    expect(f32ToF16Bits(-(2 ** -14) * (1 - 2 ** -11))).toBe(0x8400); // largest subnormal rounds up to min normal
    expect(f32ToF16Bits(NaN) & 0x7e00).toBe(0x7e00);
  });
  it('BF16: rounds to nearest even', () => {
    expect(f32ToBf16Bits(1)).toBe(0x3f80);
    expect(f32ToBf16Bits(-2)).toBe(0xc000);
    expect(f32ToBf16Bits(1 + 2 ** -8)).toBe(0x3f80); // tie → even
    expect(f32ToBf16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(f32ToBf16Bits(Infinity)).toBe(0x7f80);
    expect(f32ToBf16Bits(NaN) & 0x7fc0).toBe(0x7fc0);
  });
});

describe('safetensors reading', () => {
  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    it(`round-trips ${dtype}, whole tensors and row ranges`, () => {
      const file = path.join(tmp, `rt-${dtype}.safetensors`);
      // Magnitudes in [0.25, 0.5) share one exponent, so roundToDtype's fixed step is the dtype's ulp.
      const tensors = params.map((p, i) => ({ key: p.key, shape: [...p.shape], dtype, data: data(size(p.shape), i + 1).map((x) => Math.sign(x) * (0.25 + Math.abs(x) / 4)) }));
      writeSafetensors(file, tensors, { format: 'pt' });
      const src = openSafetensors(file, params);
      expect(src.description).toBe(file);
      params.forEach((p, i) => {
        const want = roundToDtype(tensors[i].data, dtype);
        expect(Array.from(src.readRows(p, 0, p.shape[0]))).toEqual(Array.from(want));
        const row = size(p.shape) / p.shape[0];
        expect(Array.from(src.readRows(p, 1, 3))).toEqual(Array.from(want.subarray(row, 3 * row)));
        expect(src.readRows(p, 2, 2).length).toBe(0);
      });
      src.close();
      src.close(); // idempotent
    });
  }

  it("accepts the seed notebook's key names (and tensors in any order)", () => {
    const file = path.join(tmp, 'notebook.safetensors');
    const tensors = params.map((p, i) => ({ key: p.notebookKey, shape: [...p.shape], data: data(size(p.shape), 10 + i) })).reverse();
    writeSafetensors(file, tensors);
    const src = openSafetensors(file, params);
    expect(Array.from(src.readRows(params[0], 0, 3))).toEqual(Array.from(tensors[3].data));
    expect(Array.from(src.readRows(params[2], 0, 4))).toEqual(Array.from(tensors[1].data));
    src.close();
  });

  it('accepts F64 and NaN when allowed', () => {
    const file = path.join(tmp, 'f64.safetensors');
    const header: Record<string, unknown> = {};
    const bufs: Buffer[] = [];
    let off = 0;
    for (const p of params) {
      const v = new Float64Array(size(p.shape)).map((_, i) => i / 8);
      if (p.key === 'features.0.bias') v[1] = NaN;
      header[p.key] = { dtype: 'F64', shape: p.shape, data_offsets: [off, off + v.byteLength] };
      bufs.push(Buffer.from(v.buffer));
      off += v.byteLength;
    }
    const json = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    fs.writeFileSync(file, Buffer.concat([len, json, ...bufs]));
    const src = openSafetensors(file, params, { allowNonfinite: true });
    expect(Array.from(src.readRows(params[2], 1, 2))).toEqual(Array.from({ length: 27 }, (_, i) => (27 + i) / 8));
    expect(Array.from(src.readRows(params[1], 0, 3))).toEqual([0, NaN, 0.25]);
    src.close();
  });
});

describe('seeded random weights', () => {
  const big: ParamTensor[] = [
    { key: 'features.0.weight', notebookKey: 'a', shape: [256, 128, 3, 3], init: 'kaiming-normal-fan-out-relu' },
    { key: 'features.0.bias', notebookKey: 'b', shape: [256], init: 'zeros' },
    { key: 'classifier.0.weight', notebookKey: 'c', shape: [1000, 512], init: 'normal-0.01' },
    { key: 'classifier.3.weight', notebookKey: 'd', shape: [1000, 512], init: 'normal-0.01' },
  ];

  it('is deterministic and independent of access order', () => {
    const p = big[2];
    const whole = seededRandomWeights(big, 7).readRows(p, 0, 1000);
    // Row ranges of odd lengths (so Box–Muller pairs get split), in reverse order, from a fresh source.
    const src = seededRandomWeights(big, 7);
    const parts: Float32Array[] = [];
    for (let end = 1000; end > 0; end -= 3) parts.unshift(src.readRows(p, Math.max(0, end - 3), end));
    const joined = new Float32Array(whole.length);
    let at = 0;
    for (const part of parts) {
      joined.set(part, at);
      at += part.length;
    }
    const same = (x: Float32Array, y: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength));
    expect(same(joined, whole)).toBe(true);
    // A tensor on its own gives the same values as after reading others.
    const c1 = seededRandomWeights(big, 7);
    c1.readRows(big[0], 0, 256);
    expect(same(c1.readRows(p, 5, 6), whole.subarray(5 * 512, 6 * 512))).toBe(true);
    expect(same(seededRandomWeights(big, 8).readRows(p, 0, 1000), whole)).toBe(false);
    expect(seededRandomWeights(big, 7).description).toBe('seeded random weights (seed 7)');
  });

  it('differs between seeds and between tensors', () => {
    const a = seededRandomWeights(big, 1).readRows(big[2], 0, 10);
    const b = seededRandomWeights(big, 2).readRows(big[2], 0, 10);
    const c = seededRandomWeights(big, 1).readRows(big[3], 0, 10);
    const corr = (x: Float32Array, y: Float32Array) => x.reduce((s, v, i) => s + v * y[i], 0) / (0.01 * 0.01 * x.length);
    expect(Math.abs(corr(a, b))).toBeLessThan(0.1);
    expect(Math.abs(corr(a, c))).toBeLessThan(0.1);
  });

  it("follows torchvision's init: kaiming-normal fan_out, N(0, 0.01), zeros", () => {
    const src = seededRandomWeights(big, 0);
    const check = (v: Float32Array, std: number) => {
      const n = v.length;
      const mean = v.reduce((s, x) => s + x, 0) / n;
      const sd = Math.sqrt(v.reduce((s, x) => s + (x - mean) ** 2, 0) / n);
      expect(Math.abs(mean)).toBeLessThan((4 * std) / Math.sqrt(n));
      expect(Math.abs(sd / std - 1)).toBeLessThan(0.01);
      // Shape of the distribution: 68.27% within one σ, 95.45% within two.
      expect(Math.abs(v.filter((x) => Math.abs(x) < std).length / n - 0.6827)).toBeLessThan(0.005);
      expect(Math.abs(v.filter((x) => Math.abs(x) < 2 * std).length / n - 0.9545)).toBeLessThan(0.003);
    };
    check(src.readRows(big[0], 0, 256), Math.sqrt(2 / (256 * 9)));
    check(src.readRows(big[2], 0, 1000), 0.01);
    expect(src.readRows(big[1], 0, 256).every((x) => x === 0)).toBe(true);
  });
});

describe('quantisation helpers', () => {
  it('rounds half to even like torch.round', () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4999, 2.5001].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2, 3]);
  });
  it('int8: an all-zero row gets scale 1 and zeros; the largest magnitude maps to ±127', () => {
    expect(int8Scale([0, 0, -0], { tensor: 't', offset: 0 })).toBe(1);
    const row = [0.5, -1.27, 0.01, 0];
    const q = new Int8Array(4);
    quantizeInt8(row, int8Scale(row, { tensor: 't', offset: 0 }), q);
    expect(Array.from(q)).toEqual([50, -127, 1, 0]);
  });
});

describe('packWeights', () => {
  // Odd sizes so the last output block is partial; gaps between tensors to check zero fill.
  const conv: ParamTensor = { key: 'features.0.weight', notebookKey: 'x', shape: [12, 5, 3, 3], init: 'zeros' };
  const convBias: ParamTensor = { key: 'features.0.bias', notebookKey: 'x', shape: [12], init: 'zeros' };
  const fc: ParamTensor = { key: 'classifier.0.weight', notebookKey: 'x', shape: [13, 7], init: 'zeros' };
  const fcBias: ParamTensor = { key: 'classifier.0.bias', notebookKey: 'x', shape: [13], init: 'zeros' };
  const values = new Map([conv, convBias, fc, fcBias].map((p, i) => [p.key, data(size(p.shape), 100 + i)]));
  const memorySource: WeightSource = {
    description: 'test data',
    readRows(p, r0, r1) {
      const row = size(p.shape) / p.shape[0];
      return values.get(p.key)!.slice(r0 * row, r1 * row);
    },
    close() {},
  };
  const CONV: WeightLayout = { op: 'conv3x3', dtype: 'f32' };
  const BIAS: WeightLayout = { op: 'bias', dtype: 'f32' };
  const FC: WeightLayout = { op: 'linear', dtype: 'f32' };
  const plan = (layouts: [ParamTensor, WeightLayout, number][]): PackedTensor[] =>
    layouts.map(([param, layout, offset]) => ({ param, layout, offset, byteLength: packedByteLength(param, layout), address: offset }));
  // conv: 16·5·9·4 = 2880 B; fc: 16·7·4 = 448 B; biases 64 B each.
  const tensors = plan([[conv, CONV, 64], [convBias, BIAS, 3008], [fc, FC, 3136], [fcBias, BIAS, 3584]]);
  const payloadBytes = 3776;

  /** A fresh folder for one pack. */
  const outDir = (name: string): string => {
    const d = path.join(tmp, name);
    fs.mkdirSync(d, { recursive: true });
    return d;
  };

  it('writes layouts, padding and gaps exactly as layout.ts specifies, as one weights.bin with --shard-size 0', async () => {
    const dir = outDir('one');
    const progress: number[] = [];
    const result = await packWeights(memorySource, tensors, payloadBytes, dir, 0, (done, total) => {
      expect(total).toBe(payloadBytes);
      progress.push(done);
    });
    expect(fs.readdirSync(dir)).toEqual(['weights.bin']);
    const file = fs.readFileSync(path.join(dir, 'weights.bin'));
    expect(file.length).toBe(payloadBytes); // raw payload, no header
    const sha = createHash('sha256').update(file).digest('hex');
    expect(result).toEqual({ sha256: sha, payloadBytes, shards: [{ file: 'weights.bin', offset: 0, bytes: payloadBytes, sha256: sha, xxh64: xxh64Reference(file) }] });
    expect(progress.at(-1)).toBe(payloadBytes);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));

    // The expected payload, built by the straightforward index formulas; everything else is 0.
    const want = new Float32Array(payloadBytes / 4);
    const W = values.get(conv.key)!; // [12][5][3][3]
    for (let cb = 0; cb < 2; cb++)
      for (let ky = 0; ky < 3; ky++)
        for (let kx = 0; kx < 3; kx++)
          for (let ci = 0; ci < 5; ci++)
            for (let j = 0; j < 8; j++) {
              const co = cb * 8 + j;
              want[64 / 4 + ((((cb * 3 + ky) * 3 + kx) * 5 + ci) * 8 + j)] = co < 12 ? W[((co * 5 + ci) * 3 + ky) * 3 + kx] : 0;
            }
    want.set(values.get(convBias.key)!, 3008 / 4);
    const F = values.get(fc.key)!; // [13][7]
    for (let ob = 0; ob < 2; ob++)
      for (let i = 0; i < 7; i++)
        for (let j = 0; j < 8; j++) want[3136 / 4 + (ob * 7 + i) * 8 + j] = ob * 8 + j < 13 ? F[(ob * 8 + j) * 7 + i] : 0;
    want.set(values.get(fcBias.key)!, 3584 / 4);

    const got = new Float32Array(file.buffer.slice(file.byteOffset, file.byteOffset + file.length));
    expect(Array.from(got)).toEqual(Array.from(want));
  });

  it('packs a safetensors source the same way as an in-memory one', async () => {
    const st = path.join(tmp, 'pack-src.safetensors');
    writeSafetensors(st, [conv, convBias, fc, fcBias].map((p) => ({ key: p.key, shape: [...p.shape], data: values.get(p.key)! })));
    const a = await packWeights(memorySource, tensors, payloadBytes, outDir('a'), 0);
    const src = openSafetensors(st, [conv, convBias, fc, fcBias]);
    const b = await packWeights(src, tensors, payloadBytes, outDir('b'), 0);
    src.close();
    expect(b.sha256).toBe(a.sha256);
  });

  it('rejects an inconsistent plan with a plain Error (a compiler bug, not user error)', async () => {
    const dir = outDir('bad');
    const attempt = (t: PackedTensor[], bytes = payloadBytes) => packWeights(memorySource, t, bytes, dir, 0);
    await expect(attempt([tensors[1], tensors[0]])).rejects.toThrow(/not sorted or overlapping/);
    await expect(attempt(plan([[conv, CONV, 0], [convBias, BIAS, 2816]]))).rejects.toThrow(/not sorted or overlapping/);
    await expect(attempt(tensors, 3600)).rejects.toThrow(/beyond the 3600-byte payload/);
    await expect(attempt(plan([[conv, CONV, 32]]))).rejects.toThrow(/not a multiple of 64/);
    await expect(attempt(plan([[fc, CONV, 0]]))).rejects.toThrow(/does not fit layout/);
    await expect(attempt([{ ...tensors[0], byteLength: 64 }])).rejects.toThrow(/packed size/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('int8 and f16 layouts: q and scales per output row, halves, convolutions rounded in f32', async () => {
    // fc [13][7] as int8 (7·16 = 112 B) + scales (64 B), as f16 (224 B); conv rounded to int8 values.
    const t: PackedTensor[] = [
      { param: conv, layout: { op: 'conv3x3', dtype: 'f32', roundedTo: 'int8' }, offset: 0, byteLength: 2880, address: 0 },
      { param: fc, layout: { op: 'linear', dtype: 'int8' }, offset: 2880, byteLength: 112, address: 2880 },
      { param: fc, layout: { op: 'int8-scales', dtype: 'f32' }, offset: 3008, byteLength: 64, address: 3008 },
      { param: fc, layout: { op: 'linear', dtype: 'f16' }, offset: 3072, byteLength: 224, address: 3072 },
    ];
    const dir = outDir('quantised');
    await packWeights(memorySource, t, 3328, dir, 0);
    const payload = fs.readFileSync(path.join(dir, 'weights.bin'));
    const F = values.get(fc.key)!;
    const q = new Int8Array(payload.buffer, payload.byteOffset + 2880, 112);
    const scales = new Float32Array(payload.buffer.slice(payload.byteOffset + 3008, payload.byteOffset + 3072));
    const halves = new Uint16Array(payload.buffer.slice(payload.byteOffset + 3072, payload.byteOffset + 3296));
    for (let o = 0; o < 16; o++) {
      const row = Array.from(F.subarray(o * 7, o * 7 + 7));
      const max = Math.max(...row.map(Math.abs));
      expect(scales[o]).toBe(o < 13 ? Math.fround(max / 127) : 0);
      for (let i = 0; i < 7; i++) {
        const at = (Math.floor(o / 8) * 7 + i) * 8 + (o % 8);
        if (o >= 13) {
          expect([q[at], halves[at]]).toEqual([0, 0]);
          continue;
        }
        expect(q[at]).toBe(roundHalfEven(Math.fround(row[i] / scales[o])));
        expect(Math.abs(q[at] * scales[o] - row[i])).toBeLessThanOrEqual(scales[o] / 2 + 1e-7);
        expect(halves[at]).toBe(f32ToF16Bits(row[i]));
      }
      if (o < 13) expect(Math.max(...Array.from({ length: 7 }, (_, i) => Math.abs(q[(Math.floor(o / 8) * 7 + i) * 8 + (o % 8)])))).toBe(127);
    }
    // Convolution: every stored value is q·scale of its output channel's row, with the scale from the
    // rule (max|w| / 127 in float32), |q| ≤ 127 reached by the largest weight, and q·scale the nearest.
    const convOut = new Float32Array(payload.buffer.slice(payload.byteOffset, payload.byteOffset + 2880));
    const W = values.get(conv.key)!;
    for (let co = 0; co < 12; co++) {
      const row = Array.from(W.subarray(co * 45, co * 45 + 45));
      const scale = Math.fround(Math.max(...row.map(Math.abs)) / 127);
      let largest = 0;
      for (let ci = 0; ci < 5; ci++) for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) {
        const v = convOut[(((Math.floor(co / 8) * 3 + ky) * 3 + kx) * 5 + ci) * 8 + (co % 8)];
        const w = row[(ci * 3 + ky) * 3 + kx];
        const q = Math.round(v / scale);
        expect(v).toBe(Math.fround(q * scale));
        expect(Math.abs(v - w)).toBeLessThanOrEqual(scale / 2 + 1e-7);
        largest = Math.max(largest, Math.abs(q));
      }
      expect(largest).toBe(127);
    }
  });

  it('removes every shard already written when the source fails', async () => {
    const dir = outDir('partial');
    const failing: WeightSource = { ...memorySource, readRows: (p, r0, r1) => { if (p === fc) throw new Error('boom'); return memorySource.readRows(p, r0, r1); } };
    await expect(packWeights(failing, tensors, payloadBytes, dir, 0)).rejects.toThrow('boom');
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('refuses a shard size below 4 KiB (0 aside) in one line', async () => {
    await expect(packWeights(memorySource, tensors, payloadBytes, outDir('tiny'), 100)).rejects.toThrow(/^shard size must be 0 \(one weights file\) or at least 4096 bytes, found 100$/);
  });
});

describe('ShardWriter', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vggc-shards-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('cuts the payload at every shard boundary, whatever the writes, and hashes each shard and the whole', () => {
    const payload = new Uint8Array(10_000).map((_, i) => (i * 7 + (i >> 8)) & 255);
    const dir = path.join(tmp, 'cut');
    fs.mkdirSync(dir);
    const w = new ShardWriter(dir, payload.length, 4096);
    // Writes of odd sizes that straddle the boundaries.
    for (let at = 0; at < payload.length; ) {
      const n = Math.min(1 + ((at * 13) % 3000), payload.length - at);
      w.write(payload.subarray(at, at + n));
      at += n;
    }
    const { shards, sha256 } = w.finish();
    expect(sha256).toBe(createHash('sha256').update(payload).digest('hex'));
    expect(shards.map((s) => [s.file, s.offset, s.bytes])).toEqual([['weights-000.bin', 0, 4096], ['weights-001.bin', 4096, 4096], ['weights-002.bin', 8192, 1808]]);
    for (const s of shards) {
      const bytes = fs.readFileSync(path.join(dir, s.file));
      expect(bytes.equals(Buffer.from(payload.subarray(s.offset, s.offset + s.bytes)))).toBe(true);
      expect(s.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(s.xxh64).toBe(xxh64Reference(bytes));
    }
  });

  it('names shards with enough digits to sort in payload order', () => {
    expect([shardFileName(0, 3), shardFileName(999, 1000), shardFileName(5, 1001), shardFileName(1000, 1001)]).toEqual(['weights-000.bin', 'weights-999.bin', 'weights-0005.bin', 'weights-1000.bin']);
  });

  it('the JavaScript CRC-32 of zip entries (for Node before 20.15) gives zlib\'s numbers', () => {
    const bytes = new Uint8Array(70_001).map((_, i) => (i * 31) ^ (i >> 3));
    expect(crc32Js(bytes)).toBe(zlib.crc32(bytes));
    expect(crc32Js(bytes.subarray(5000), crc32Js(bytes.subarray(0, 5000)))).toBe(zlib.crc32(bytes));
    expect(crc32Js(new TextEncoder().encode('123456789'))).toBe(0xcbf43926); // the CRC-32 check value
  });
});
