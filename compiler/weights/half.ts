/**
 * IEEE binary16 (F16) and bfloat16 (BF16) ↔ float32 conversion, bit-exact and round-to-nearest-even,
 * for the safetensors reader and writer. Written out by hand because Node 20 has no Float16Array.
 */

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** float32 bit pattern of a number (after rounding it to float32). */
export function f32Bits(v: number): number {
  scratchF32[0] = v;
  return scratchU32[0];
}

function f16BitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24; // zero or subnormal
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

let f16Table: Float32Array | undefined;
/**
 * All 65,536 half values as float32 (256 KiB, built on first use): a table lookup per element is
 * the fastest conversion in JS, which matters for a 100M-parameter F16 checkpoint.
 */
export function f16ToF32Table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToNumber(h);
  }
  return f16Table;
}

/** Nearest binary16 to `v` (ties to even), as its 16-bit pattern. Overflow → ±Inf, NaN stays NaN. */
export function f32ToF16Bits(v: number): number {
  const x = f32Bits(v);
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15; // rebias
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Result is a half subnormal m × 2^-24 (or zero); m = full mantissa >> (14 - e), rounded.
    if (e < -10) return sign;
    const full = mant | 0x800000;
    const shift = 14 - e;
    const m = full >>> shift;
    const rem = full & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    return sign | (rem > half || (rem === half && m & 1) ? m + 1 : m);
  }
  const m = mant >>> 13;
  const rem = mant & 0x1fff;
  // Adding (not OR-ing) lets a mantissa carry roll into the exponent, and up to Inf, as it should.
  return sign | ((e << 10) + (rem > 0x1000 || (rem === 0x1000 && m & 1) ? m + 1 : m));
}

/** Nearest bfloat16 to `v` (ties to even), as its 16-bit pattern: the top half of the float32. */
export function f32ToBf16Bits(v: number): number {
  const x = f32Bits(v);
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return (x >>> 16) | 0x40; // keep NaN a NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) / 65536) & 0xffff; // division: x + … may exceed 2^32 - 1
}

/** The float storage types weight files use (safetensors names; ONNX maps its data types onto them). */
export type FloatStorage = 'F32' | 'F16' | 'BF16' | 'F64';

/**
 * `out.length` little-endian elements of `dtype` from `raw` (its bytes start at offset 0 of an
 * aligned buffer) into `out` as float32. For F32 the caller reads straight into out's own bytes, so
 * there is nothing left to do; F64 values beyond float32's range become ±Inf (for the non-finite check).
 */
export function decodeFloats(raw: Uint8Array, dtype: FloatStorage, out: Float32Array): void {
  const count = out.length;
  switch (dtype) {
    case 'F32':
      if (raw.buffer !== out.buffer) out.set(new Float32Array(raw.buffer, raw.byteOffset, count));
      return;
    case 'F16': {
      const table = f16ToF32Table();
      const src = new Uint16Array(raw.buffer, raw.byteOffset, count);
      for (let i = 0; i < count; i++) out[i] = table[src[i]];
      return;
    }
    case 'BF16': {
      // bfloat16 is the top half of a float32: shift the bits into place.
      const src = new Uint16Array(raw.buffer, raw.byteOffset, count);
      const bits = new Uint32Array(out.buffer, out.byteOffset, count);
      for (let i = 0; i < count; i++) bits[i] = src[i] << 16;
      return;
    }
    case 'F64':
      out.set(new Float64Array(raw.buffer, raw.byteOffset, count));
      return;
  }
}

/** Bytes per element of each storage type. */
export const FLOAT_STORAGE_BYTES: Record<FloatStorage, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };
