/**
 * Winograd minimal filtering F(m×m, 3×3) (Lavin & Gray, 2015): a 3×3 convolution over an m×m output
 * tile computed as Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A on an α×α input tile, α = m + 2. The filter
 * transform U = G g Gᵀ is done once: at compile time for f32 weights (weights/pack.ts, in float64,
 * rounded to float32 once), at load for f16/int8 weights (codegen/kernels/winograd-filter.ts, in
 * float32, from the quantised 3×3 filters). The input and output transforms are generated as
 * straight-line f32x4 code from these matrices.
 *
 * F(4×4, 3×3) with interpolation points 0, ±1, ±2, ∞: 36 multiplies per 16 outputs instead of 144
 * (4× fewer). Float32 error: vggc's full-size VGG-11/13/16/19 are within 3e-6 · max|y| of PyTorch
 * (test/parity-torch.test.ts); a PyTorch emulation of F(4×4) on VGG-11/16 measured ≤ 6.2e-6
 * (docs/performance.md, "Winograd in float32").
 */

export interface WinogradTransform {
  readonly name: string;
  /** Output tile side. */
  readonly m: number;
  /** Input tile side, m + 2. */
  readonly alpha: number;
  /** α×α input transform (applied as Bᵀ d B). */
  readonly BT: readonly (readonly number[])[];
  /** α×3 filter transform (G g Gᵀ). */
  readonly G: readonly (readonly number[])[];
  /** m×α output transform (Aᵀ M A). */
  readonly AT: readonly (readonly number[])[];
}

export const F4X4_3X3: WinogradTransform = {
  name: 'f4x4',
  m: 4,
  alpha: 6,
  BT: [
    [4, 0, -5, 0, 1, 0],
    [0, -4, -4, 1, 1, 0],
    [0, 4, -4, -1, 1, 0],
    [0, -2, -1, 2, 1, 0],
    [0, 2, -1, -2, 1, 0],
    [0, 4, 0, -5, 0, 1],
  ],
  G: [
    [1 / 4, 0, 0],
    [-1 / 6, -1 / 6, -1 / 6],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
  ],
  AT: [
    [1, 1, 1, 1, 1, 0],
    [0, 1, -1, 2, -2, 0],
    [0, 1, 1, 4, 4, 0],
    [0, 1, -1, 8, -8, 1],
  ],
};

/**
 * U = G g Gᵀ for one 3×3 filter g (row-major), as α·α values row-major (frequency ξ = i·α + j).
 * `scratch` (α·3 and α·α values) lets a caller transforming a whole filter bank reuse two buffers;
 * the result is then scratch.u.
 */
export function transformFilter(g: ArrayLike<number>, t: WinogradTransform, scratch?: { gg: Float64Array; u: Float64Array }): Float64Array {
  const a = t.alpha;
  const tmp = scratch?.gg ?? new Float64Array(a * 3); // G g
  for (let i = 0; i < a; i++) for (let j = 0; j < 3; j++) {
    let s = 0;
    for (let k = 0; k < 3; k++) s += t.G[i][k] * g[k * 3 + j];
    tmp[i * 3 + j] = s;
  }
  const u = scratch?.u ?? new Float64Array(a * a); // (G g) Gᵀ
  for (let i = 0; i < a; i++) for (let j = 0; j < a; j++) {
    let s = 0;
    for (let k = 0; k < 3; k++) s += tmp[i * 3 + k] * t.G[j][k];
    u[i * a + j] = s;
  }
  return u;
}

