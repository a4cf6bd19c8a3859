// Helpers for the default, deterministic build: every engine computes bit-identical results.
export * from './vggc-common';

/** acc + a·b on four lanes: mul then add, each rounded (wasm SIMD has no fused multiply-add). */
// @ts-ignore: decorator
@inline export function madd(acc: v128, a: v128, b: v128): v128 {
  return f32x4.add(acc, f32x4.mul(a, b));
}
