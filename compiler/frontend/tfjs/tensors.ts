/**
 * Keras weights as StoredTensors in PyTorch's layout, decoded on first read:
 *
 *   conv kernel   Keras HWIO [3, 3, in, out]  → [out, in, 3, 3]
 *   dense kernel  Keras [in, out]             → [out, in]; for the first Dense after Flatten the
 *                 `in` axis is also reordered from Keras's NHWC flatten order (h, w, c) to the
 *                 NCHW order (c, h, w) vggc flattens in
 *   vectors       [n] as they are
 *
 * Nothing is read before the first read() call. A kernel read touches its whole source tensor, so
 * kernels are decoded whole and a few are kept (WeightReader); vectors are read range by range.
 * VGG16's fc1 kernel is 411 MB as float32, all its weights together 553 MB.
 */
import type { StoredTensor } from '../imported.js';
import { rawWeight } from './decode.js';
import type { WeightEntry } from './manifest.js';
import { readWeightBytes } from './shards.js';

/**
 * Reads weights for the StoredTensors of one imported model. Element-wise layouts (vectors) are read
 * as exactly the requested range, straight from the shards. Transposed layouts (kernels) need the
 * whole tensor, so decoded kernels are kept: always the most recently used one, older ones while all
 * kept fit in `keepBytes` (a consumer reading conv rows interleaved with BatchNorm vectors, or a
 * 411 MB fc1 kernel slice by slice, decodes each kernel once, without every kernel in memory).
 */
export class WeightReader {
  private readonly kept = new Map<WeightEntry, Float32Array>(); // iteration order = least recently used first
  private keptBytes = 0;

  constructor(
    private readonly modelPath: string,
    private readonly keepBytes = 64 * 1024 * 1024,
  ) {}

  /** Elements [start, start + count) of the weight in its stored order, decoded. */
  range(entry: WeightEntry, start: number, count: number): Float32Array {
    const raw = rawWeight(entry.storage, count);
    readWeightBytes(entry, raw.bytes, this.modelPath, start * entry.valueBytes);
    return raw.decode();
  }

  /** The whole weight, decoded; shared, the caller must not modify it. */
  whole(entry: WeightEntry): Float32Array {
    const hit = this.kept.get(entry);
    if (hit) {
      this.kept.delete(entry);
      this.kept.set(entry, hit);
      return hit;
    }
    // Make room before allocating, so a large kernel never coexists with the ones it displaces.
    const bytes = entry.count * 4;
    for (const [old, data] of this.kept) {
      if (this.keptBytes + bytes <= this.keepBytes) break;
      this.kept.delete(old);
      this.keptBytes -= data.byteLength;
    }
    const data = this.range(entry, 0, entry.count);
    this.kept.set(entry, data);
    this.keptBytes += bytes;
    return data;
  }

  /** Drops every decoded kernel. */
  clear(): void {
    this.kept.clear();
    this.keptBytes = 0;
  }
}

function checkRange(shape: readonly number[], start: number, count: number, origin: string): void {
  const size = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || start < 0 || count < 0 || start + count > size) {
    throw new RangeError(`${origin}: read(${start}, ${count}) outside its ${size} elements`);
  }
}

/** A tensor whose PyTorch layout is Keras's own (bias, BatchNorm vectors). */
export function vectorTensor(entry: WeightEntry, reader: WeightReader): StoredTensor {
  const shape = [...entry.shape];
  return {
    shape,
    origin: entry.name,
    read(start, count) {
      checkRange(shape, start, count, entry.name);
      return reader.range(entry, start, count);
    },
  };
}

/** Keras conv kernel [kh, kw, in, out] read as [out, in, kh, kw]. */
export function convKernelTensor(entry: WeightEntry, reader: WeightReader): StoredTensor {
  const [kh, kw, cin, cout] = entry.shape;
  const shape = [cout, cin, kh, kw];
  return {
    shape,
    origin: entry.name,
    read(start, count) {
      checkRange(shape, start, count, entry.name);
      const src = reader.whole(entry);
      const out = new Float32Array(count);
      const taps = kh * kw;
      for (let t = 0; t < count; t++) {
        const k = start + t;
        const tap = k % taps; // kh·kw position, row-major in both layouts
        const oi = (k - tap) / taps;
        const i = oi % cin;
        const o = (oi - i) / cin;
        out[t] = src[(tap * cin + i) * cout + o];
      }
      return out;
    },
  };
}

/**
 * Keras dense kernel [in, out] read as [out, in]. With `flattenedMap` [h, w, c] (the first Dense
 * after Flatten), PyTorch's input j = (c·h + y)·w + x is Keras's row (y·w + x)·c + ch.
 */
export function denseKernelTensor(entry: WeightEntry, reader: WeightReader, flattenedMap: readonly [number, number, number] | null): StoredTensor {
  const [fin, fout] = entry.shape;
  const shape = [fout, fin];
  let rows: Int32Array | null = null;
  const kerasRow = (): Int32Array => {
    if (!rows) {
      rows = new Int32Array(fin);
      if (flattenedMap) {
        const [h, w, c] = flattenedMap;
        for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rows[(ch * h + y) * w + x] = (y * w + x) * c + ch;
      } else {
        for (let j = 0; j < fin; j++) rows[j] = j;
      }
    }
    return rows;
  };
  return {
    shape,
    origin: entry.name,
    read(start, count) {
      checkRange(shape, start, count, entry.name);
      const src = reader.whole(entry);
      const row = kerasRow();
      const out = new Float32Array(count);
      let o = Math.floor(start / fin);
      let j = start - o * fin;
      for (let t = 0; t < count; t++) {
        out[t] = src[row[j] * fout + o];
        if (++j === fin) {
          j = 0;
          o++;
        }
      }
      return out;
    },
  };
}
