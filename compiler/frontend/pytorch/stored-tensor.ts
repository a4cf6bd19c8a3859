/**
 * A checkpoint tensor as a StoredTensor: read on demand with positioned reads of only the span the
 * request needs. A tensor may be a view of its storage (a slice: non-zero offset; a transpose saved
 * as is: permuted strides): `read` returns logical row-major elements whatever the layout.
 */
import type { StoredTensor } from '../imported.js';
import { decodeFloats, type FloatStorage } from '../../weights/half.js';
import { failIn, readInto, type OpenFile } from './file-bytes.js';
import type { TorchTensor } from './torch-globals.js';

export interface TorchStoredTensor extends StoredTensor {
  /** torch's dtype name (float32, float16, bfloat16, float64, int64, …). */
  readonly dtype: string;
}

/** A strided request is read in one piece when that reads at most this many times the elements wanted. */
const DENSITY = 4;
/** …or when the span is this small anyway. */
const SMALL_SPAN = 4096;
/** Elements a run may stretch beyond its density budget: elements this close share a disk page anyway. */
const RUN_SLACK = 256;

export function storedTensor(file: OpenFile, base: number, t: TorchTensor, origin: string): TorchStoredTensor {
  const dtype = t.storage.type.dtype;
  const shape = t.shape;
  const numel = shape.reduce((a, b) => a * b, 1);
  const contiguous = isRowMajor(shape, t.stride);
  return {
    shape,
    origin,
    dtype: dtype.name,
    read(start, count) {
      if (!(Number.isSafeInteger(start) && Number.isSafeInteger(count) && start >= 0 && count >= 0 && start + count <= numel)) {
        throw new RangeError(`read(${start}, ${count}) is outside ${origin}'s ${numel} elements`);
      }
      const float = dtype.float;
      if (!float) return failIn(file.path, `tensor ${origin} is ${dtype.name}; vggc reads float32, float16, bfloat16 and float64 tensors only`);
      const span = (first: number, n: number): Float32Array => readSpan(file, base, float, dtype.itemSize, first, n, origin);
      if (count === 0) return new Float32Array(0);
      if (contiguous) return span(t.offset + start, count);
      return gather(shape, t.stride, t.offset, start, count, span);
    },
  };
}

/** Strides of a C-contiguous tensor (dimensions of size 1 may have any stride). */
function isRowMajor(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}

/** Storage elements [first, first + n) as float32. */
function readSpan(file: OpenFile, base: number, float: FloatStorage, itemSize: number, first: number, n: number, origin: string): Float32Array {
  const out = new Float32Array(n);
  // float32 is read straight into the result; other types into their own aligned buffer, then converted.
  const raw = float === 'F32' ? new Uint8Array(out.buffer) : new Uint8Array(n * itemSize);
  readInto(file, base + first * itemSize, raw, `tensor ${origin}`);
  decodeFloats(raw, float, out);
  return out;
}

/**
 * Calls `visit(storageIndex, i)` for logical elements start … start + count - 1 in row-major order,
 * stepping the multi-index like an odometer (no division per element).
 */
function forEachIndex(shape: readonly number[], stride: readonly number[], offset: number, start: number, count: number, visit: (s: number, i: number) => void): void {
  const dims = shape.length;
  const idx = new Array<number>(dims).fill(0);
  let s = offset;
  for (let d = dims - 1, rest = start; d >= 0; d--) {
    idx[d] = rest % shape[d];
    rest = Math.floor(rest / shape[d]);
    s += idx[d] * stride[d];
  }
  for (let i = 0; i < count; i++) {
    visit(s, i);
    for (let d = dims - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) {
        s += stride[d];
        break;
      }
      s -= (shape[d] - 1) * stride[d];
      idx[d] = 0;
    }
  }
}

/**
 * A strided request. When the storage span it touches is dense enough, one read covers it all;
 * otherwise it is split into runs of nearby elements, each read on its own (a row of a transposed
 * matrix: one element per read, rather than the whole matrix for each row).
 */
function gather(
  shape: readonly number[],
  stride: readonly number[],
  offset: number,
  start: number,
  count: number,
  span: (first: number, n: number) => Float32Array,
): Float32Array {
  let lo = Infinity;
  let hi = -1;
  forEachIndex(shape, stride, offset, start, count, (s) => {
    if (s < lo) lo = s;
    if (s > hi) hi = s;
  });
  const out = new Float32Array(count);
  if (hi - lo + 1 <= Math.max(DENSITY * count, SMALL_SPAN)) {
    const values = span(lo, hi - lo + 1);
    forEachIndex(shape, stride, offset, start, count, (s, i) => (out[i] = values[s - lo]));
    return out;
  }
  // Runs: consecutive logical elements whose storage indices stay within a dense window.
  const members = new Float64Array(Math.min(count, 1 << 16));
  let m = 0;
  let first = 0;
  let runLo = 0;
  let runHi = 0;
  const flush = (): void => {
    const values = span(runLo, runHi - runLo + 1);
    for (let j = 0; j < m; j++) out[first + j] = values[members[j] - runLo];
  };
  forEachIndex(shape, stride, offset, start, count, (s, i) => {
    if (m > 0) {
      const newLo = Math.min(runLo, s);
      const newHi = Math.max(runHi, s);
      if (m === members.length || newHi - newLo + 1 > Math.max(DENSITY * (m + 1), RUN_SLACK)) {
        flush();
        m = 0;
      } else {
        runLo = newLo;
        runHi = newHi;
      }
    }
    if (m === 0) {
      first = i;
      runLo = runHi = s;
    }
    members[m++] = s;
  });
  flush();
  return out;
}
