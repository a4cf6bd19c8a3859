// Hand-written AssemblyScript pieces that vggc's generated kernels build on, shared by the
// deterministic (vggc.ts) and relaxed-SIMD (vggc-relaxed.ts) builds.
// Everything here is @inline: V8 does not inline wasm-to-wasm calls, so helpers must vanish at
// compile time (asc + binaryen inline them) to keep accumulators in registers.

/**
 * ReLU on four lanes. `pmax(x, 0)` = `x < 0 ? 0 : x`: one instruction, keeps NaN like PyTorch's
 * ReLU, and about 4× faster on x86 than `f32x4.max`, which must order NaNs (ANCHORS.md).
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

/** Zero `bytes` bytes at `ptr` (the zero frame that 3×3 pad-1 convolutions read). */
// @ts-ignore: decorator
@inline export function zeroBytes(ptr: usize, bytes: usize): void {
  memory.fill(ptr, 0, bytes);
}
