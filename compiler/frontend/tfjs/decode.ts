/**
 * TF.js weight bytes → float32, with tfjs-core's own arithmetic (io/io_utils.ts decodeWeight), so a
 * model compiled by vggc sees bit for bit the weights `tf.loadLayersModel` would:
 *
 *   float32           the bytes as a Float32Array (host byte order, as tfjs reads them)
 *   uint8 / uint16    value × scale + min, evaluated in double precision, then rounded once to
 *                     float32 by the store into a Float32Array
 *   float16           IEEE binary16 → float32, exact; NaN payloads and signs kept (tfjs's table
 *                     decoder moves the bits, it never goes through a JS number)
 */
import type { WeightStorage } from './manifest.js';

/** Bytes to fill and how to turn them into float32 once filled. */
export interface RawWeight {
  /** Fill these bytes with the weight's stored bytes (aligned for the storage type). */
  readonly bytes: Uint8Array;
  /** The decoded values; call once after `bytes` is filled. */
  decode(): Float32Array;
}

/** Room for `count` stored values; for plain float32 the bytes are the result's own (no copy). */
export function rawWeight(storage: WeightStorage, count: number): RawWeight {
  switch (storage.kind) {
    case 'plain': {
      const out = new Float32Array(count);
      return { bytes: new Uint8Array(out.buffer), decode: () => out };
    }
    case 'uint8': {
      const q = new Uint8Array(count);
      return { bytes: q, decode: () => dequantize(q, storage.scale, storage.min) };
    }
    case 'uint16': {
      const q = new Uint16Array(count);
      return { bytes: new Uint8Array(q.buffer), decode: () => dequantize(q, storage.scale, storage.min) };
    }
    case 'float16': {
      const h = new Uint16Array(count);
      return { bytes: new Uint8Array(h.buffer), decode: () => halfToFloat(h) };
    }
  }
}

function dequantize(q: Uint8Array | Uint16Array, scale: number, min: number): Float32Array {
  const out = new Float32Array(q.length);
  // Same expression, same evaluation order as tfjs: a double product plus a double, one rounding.
  for (let i = 0; i < q.length; i++) out[i] = q[i] * scale + min;
  return out;
}

function halfToFloat(h: Uint16Array): Float32Array {
  const table = halfTable();
  const out = new Float32Array(h.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < h.length; i++) bits[i] = table[h[i]];
  return out;
}

let table: Uint32Array | undefined;
/** float32 bit patterns of all 65,536 halves (256 KiB, built on first use). */
function halfTable(): Uint32Array {
  if (!table) {
    table = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = halfBitsToFloatBits(h);
  }
  return table;
}

/** binary16 bits → binary32 bits, exactly (every half is a float). */
export function halfBitsToFloatBits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // ±Inf, NaN with its payload
  if (exp !== 0) return (sign | ((exp + 127 - 15) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0; // ±0
  // Subnormal half m × 2^-24: shift the leading 1 into the implicit bit, lowering the exponent.
  let e = 127 - 14;
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}
