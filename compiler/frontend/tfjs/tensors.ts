/**
 * Keras weights as StoredTensors in PyTorch's layout, decoded on first read:
 *
 *   conv kernel   Keras HWIO [3, 3, in, out]  → [out, in, 3, 3]
 *   dense kernel  Keras [in, out]             → [out, in]; for the first Dense after Flatten the
 *                 `in` axis is also reordered from Keras's NHWC flatten order (h, w, c) to the
 *                 NCHW order (c, h, w) vggc flattens in
 *   vectors       [n] as they are
 *
 * A transposed read touches the whole source tensor, so each tensor is decoded whole when first
 * read, and one decoded tensor is kept at a time (consumers read a tensor's slices in a row, then
 * move on): VGG16's fc1 kernel is 411 MB as float32, all weights together 553 MB.
 */
import type { StoredTensor } from '../imported.js';
import { rawWeight } from './decode.js';
import type { WeightEntry } from './manifest.js';
import { readWeightBytes } from './shards.js';

/** The most recently decoded tensor, shared by all tensors of one imported model. */
export class DecodedTensorCache {
  private entry: WeightEntry | null = null;
  private data: Float32Array | null = null;

  constructor(private readonly modelPath: string) {}

  get(entry: WeightEntry): Float32Array {
    if (this.entry !== entry || !this.data) {
      // Drop the previous tensor before allocating the next, so two large ones never coexist here.
      this.clear();
      const raw = rawWeight(entry.storage, entry.count);
      readWeightBytes(entry, raw.bytes, this.modelPath);
      this.data = raw.decode();
      this.entry = entry;
    }
    return this.data;
  }

  clear(): void {
    this.entry = null;
    this.data = null;
  }
}

function checkRange(shape: readonly number[], start: number, count: number, origin: string): void {
  const size = shape.reduce((a, b) => a * b, 1);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || start < 0 || count < 0 || start + count > size) {
    throw new RangeError(`${origin}: read(${start}, ${count}) outside its ${size} elements`);
  }
}

/** A tensor whose PyTorch layout is Keras's own (bias, BatchNorm vectors). */
export function vectorTensor(entry: WeightEntry, cache: DecodedTensorCache): StoredTensor {
  const shape = [...entry.shape];
  return {
    shape,
    origin: entry.name,
    read(start, count) {
      checkRange(shape, start, count, entry.name);
      return cache.get(entry).slice(start, start + count);
    },
  };
}

/** Keras conv kernel [kh, kw, in, out] read as [out, in, kh, kw]. */
export function convKernelTensor(entry: WeightEntry, cache: DecodedTensorCache): StoredTensor {
  const [kh, kw, cin, cout] = entry.shape;
  const shape = [cout, cin, kh, kw];
  return {
    shape,
    origin: entry.name,
    read(start, count) {
      checkRange(shape, start, count, entry.name);
      const src = cache.get(entry);
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
export function denseKernelTensor(entry: WeightEntry, cache: DecodedTensorCache, flattenedMap: readonly [number, number, number] | null): StoredTensor {
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
      const src = cache.get(entry);
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
