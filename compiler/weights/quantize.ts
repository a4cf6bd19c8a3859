/**
 * Weight-only quantisation (`--weights-dtype`, see WeightsDtype in layout.ts), one output row at a
 * time: a row is one output channel's [Ci][3][3] filter or one output feature's [I] weights.
 *
 * Rounding follows PyTorch's ops so that a reference can reproduce the quantised weights exactly:
 * scale = float32(max|w| / 127), q = round-half-even(float32(w / scale)) (torch.round), and f16 is
 * `tensor.half()` (nearest, ties to even).
 */
import { VggcError } from '../errors.js';
import { f16ToF32Table, f32ToF16Bits } from './half.js';
import { INT8_MAX, type WeightsDtype } from './layout.js';

/** Largest finite half. */
const F16_MAX = 65504;
/** Bit pattern of +Inf in f16. */
const F16_INF = 0x7c00;

/** Round half to even, as torch.round and numpy.round do. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // half up
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Where a row comes from, for error messages: the tensor and the flat index of the row's first element. */
export interface RowOrigin {
  readonly tensor: string;
  readonly offset: number;
}

/** NaN/Inf have no int8 or f16 quantisation that means anything (--allow-nonfinite is for f32 only). */
function refuseNonfinite(v: number, i: number, at: RowOrigin, dtype: 'f16' | 'int8'): void {
  if (!Number.isFinite(v)) {
    throw new VggcError(`${at.tensor}: element ${at.offset + i} is ${v}, which --weights-dtype ${dtype} cannot store (--allow-nonfinite works with f32 only)`);
  }
}

/** The int8 scale of one row: max|w| / 127 in float32; 1 for an all-zero row (every q is then 0). */
export function int8Scale(row: ArrayLike<number>, at: RowOrigin): number {
  let max = 0;
  for (let i = 0; i < row.length; i++) {
    refuseNonfinite(row[i], i, at, 'int8');
    max = Math.max(max, Math.abs(row[i]));
  }
  return max === 0 ? 1 : Math.fround(max / INT8_MAX);
}

/** Quantises one row to int8 with its scale (from int8Scale) into `out`. */
export function quantizeInt8(row: ArrayLike<number>, scale: number, out: Int8Array): void {
  for (let i = 0; i < row.length; i++) {
    out[i] = Math.max(-INT8_MAX, Math.min(INT8_MAX, roundHalfEven(Math.fround(row[i] / scale))));
  }
}

/** Half bit patterns of a row; NaN/Inf, or a value beyond f16's range, is an error naming the tensor and element. */
export function toF16(row: ArrayLike<number>, out: Uint16Array, at: RowOrigin): void {
  for (let i = 0; i < row.length; i++) {
    refuseNonfinite(row[i], i, at, 'f16');
    const h = f32ToF16Bits(row[i]);
    if ((h & 0x7fff) === F16_INF) {
      // A finite value that rounds to ±Inf (|v| ≥ 65520).
      throw new VggcError(`${at.tensor}: value ${row[i]} at element ${at.offset + i} is beyond f16's range (±${F16_MAX}); use --weights-dtype f32 or int8`);
    }
    out[i] = h;
  }
}

/**
 * Replaces `rows` (rows × rowLen floats, in place, the first starting at element `at.offset` of its
 * tensor) by the values the dtype represents: what the network computes with when the stored layout
 * is float32 (direct convolutions).
 */
export function roundRows(rows: Float32Array, rowLen: number, dtype: WeightsDtype, at: RowOrigin): void {
  if (dtype === 'f32') return;
  if (dtype === 'f16') {
    const bits = new Uint16Array(rows.length);
    toF16(rows, bits, at);
    const table = f16ToF32Table();
    for (let i = 0; i < rows.length; i++) rows[i] = table[bits[i]];
    return;
  }
  const q = new Int8Array(rowLen);
  for (let r = 0; r * rowLen < rows.length; r++) {
    const row = rows.subarray(r * rowLen, (r + 1) * rowLen);
    const scale = int8Scale(row, { tensor: at.tensor, offset: at.offset + r * rowLen });
    quantizeInt8(row, scale, q);
    for (let i = 0; i < rowLen; i++) row[i] = q[i] * scale;
  }
}
