// Helpers for the relaxed-SIMD build (chosen at load where the engine supports relaxed SIMD).
export * from './vggc-common';

/**
 * acc + a·b on four lanes with `f32x4.relaxed_madd`: a fused multiply-add where the hardware has one
 * (one instruction instead of two; docs/performance.md: 66 vs 56 GFLOP/s in Chromium), mul+add elsewhere — so results may
 * differ in the last bit between machines, which is why this is not the default build.
 */
// @ts-ignore: decorator
@inline export function madd(acc: v128, a: v128, b: v128): v128 {
  return f32x4.relaxed_madd(a, b, acc);
}
