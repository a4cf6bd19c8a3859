// Hand-written AssemblyScript pieces that vggc's generated kernels build on, shared by the
// deterministic (vggc.ts) and relaxed-SIMD (vggc-relaxed.ts) builds.
// Everything here is @inline: V8 does not inline wasm-to-wasm calls, so helpers must vanish at
// compile time (asc + binaryen inline them) to keep accumulators in registers.

/**
 * ReLU on four lanes. `pmax(x, 0)` = `x < 0 ? 0 : x`: one instruction, keeps NaN like PyTorch's
 * ReLU, and about 4× faster on x86 than `f32x4.max`, which must order NaNs (docs/performance.md).
 */
// @ts-ignore: decorator
@inline export function relu4(v: v128): v128 {
  return f32x4.pmax(v, f32x4.splat(0));
}

/** Max-pool step on four lanes (pseudo-max: `a < b ? b : a`). */
// @ts-ignore: decorator
@inline export function max4(a: v128, b: v128): v128 {
  return f32x4.pmax(a, b);
}

/** Scalar ReLU with the same NaN behaviour as relu4. */
// @ts-ignore: decorator
@inline export function relu1(x: f32): f32 {
  return x < 0 ? <f32>0 : x;
}

/** Scalar pseudo-max, same rule as max4. */
// @ts-ignore: decorator
@inline export function max1(a: f32, b: f32): f32 {
  return a < b ? b : a;
}

/** Where touchLines leaves what it read, so that no compiler drops the loads. Per instance (per worker). */
let touchSink: u32 = 0;

/**
 * Reads one word of every 64-byte line of [ptr, ptr + bytes): a tight loop of independent loads that
 * brings a weight panel from memory at the core's full streaming rate, before a GEMM's register
 * tiles go over it (docs/performance.md, "Streaming U").
 */
// @ts-ignore: decorator
@inline export function touchLines(ptr: usize, bytes: usize): void {
  let s: u32 = 0;
  for (let p = ptr, end = ptr + bytes; p < end; p += 64) s ^= load<u32>(p);
  touchSink ^= s;
}

/** Zero `bytes` bytes at `ptr` (the zero frame that 3×3 pad-1 convolutions read). */
// @ts-ignore: decorator
@inline export function zeroBytes(ptr: usize, bytes: usize): void {
  memory.fill(ptr, 0, bytes);
}

// ---- Weight dequantisation (--weights-dtype f16 | int8), in registers as weights stream in. ----

/** 2^112: turns a half's exponent bias (15) into float32's (127) when the half's bits sit in a float32. */
const HALF_TO_F32_SCALE: f32 = reinterpret<f32>(0x77800000);
/** After `halfSignExtended << 13`: the sign (bit 31) and the half's exponent and mantissa (bits 27–13). */
const HALF_BITS_IN_F32 = <i32>0x8fffe000;

/**
 * Four halves, sign-extended to i32 lanes, → f32x4. The half's 15 magnitude bits shifted into place
 * form a float32 that is the half's value × 2^-112 (exactly, subnormals included); one multiply by
 * 2^112 corrects it. Infinities/NaN are never stored (the compiler refuses them).
 */
// @ts-ignore: decorator
@inline function halfBitsToF32(s: v128): v128 {
  return f32x4.mul(v128.and(i32x4.shl(s, 13), i32x4.splat(HALF_BITS_IN_F32)), f32x4.splat(HALF_TO_F32_SCALE));
}

/** Halves 0–3 of eight (one v128 load) as f32x4. */
// @ts-ignore: decorator
@inline export function halfLow4(h: v128): v128 {
  return halfBitsToF32(i32x4.extend_low_i16x8_s(h));
}

/** Halves 4–7 of eight as f32x4. */
// @ts-ignore: decorator
@inline export function halfHigh4(h: v128): v128 {
  return halfBitsToF32(i32x4.extend_high_i16x8_s(h));
}

/** int8 weights 0–3 of eight (loaded by v128.load8x8_s as i16x8) as f32x4, unscaled. */
// @ts-ignore: decorator
@inline export function int8Low4(q: v128): v128 {
  return f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(q));
}

/** int8 weights 4–7 of eight as f32x4, unscaled. */
// @ts-ignore: decorator
@inline export function int8High4(q: v128): v128 {
  return f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(q));
}

/**
 * Reference conversion of one half (scalar kernels): sign × mantissa × 2^(exponent − 25), written from
 * the format's definition rather than the bit trick the SIMD path uses.
 */
// @ts-ignore: decorator
@inline export function half1(h: u32): f32 {
  const exponent = (h >> 10) & 31;
  const mantissa = h & 1023;
  const significand: f32 = exponent == 0 ? <f32>mantissa : <f32>(mantissa | 1024); // subnormal: no implicit 1
  const power = reinterpret<f32>(((exponent == 0 ? 1 : exponent) - 25 + 127) << 23); // 2^(e − 15 − 10)
  const magnitude = significand * power;
  return h & 0x8000 ? -magnitude : magnitude;
}

// ---- The output activations' exponential (softmax, sigmoid). ----

/**
 * e^x in f64 from its definition, the same bits on every engine (a JavaScript engine's Math.exp is an
 * implementation-defined approximation, and AssemblyScript's uses lookup tables, i.e. static data):
 * x = k·ln2 + r with |r| ≤ ln2/2 (Cody–Waite, ln2 in two parts), e^r by its Taylor series to r¹²
 * (error < 2e-16), then × 2^k as two exact powers of two so that subnormal results stay right.
 */
// @ts-ignore: decorator
@inline export function exp64(x: f64): f64 {
  if (x != x) return x; // NaN
  if (x > 709.79) return Infinity;
  if (x < -745.2) return 0;
  const k = <i32>floor<f64>(x * 1.4426950408889634 + 0.5); // round(x / ln2)
  const r = x - <f64>k * 6.93147180369123816490e-1 - <f64>k * 1.90821492927058770002e-10;
  let p: f64 = 1.0 / 479001600; // 1/12!
  p = p * r + 1.0 / 39916800;
  p = p * r + 1.0 / 3628800;
  p = p * r + 1.0 / 362880;
  p = p * r + 1.0 / 40320;
  p = p * r + 1.0 / 5040;
  p = p * r + 1.0 / 720;
  p = p * r + 1.0 / 120;
  p = p * r + 1.0 / 24;
  p = p * r + 1.0 / 6;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  const k1 = k >> 1;
  const k2 = k - k1;
  return p * reinterpret<f64>(<i64>(k1 + 1023) << 52) * reinterpret<f64>(<i64>(k2 + 1023) << 52);
}
