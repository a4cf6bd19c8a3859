/**
 * Winograd minimal filtering F(m×m, 3×3) (Lavin & Gray, 2015): a 3×3 convolution over an m×m output
 * tile computed as Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A on an α×α input tile, α = m + 2. The filter
 * transform U = G g Gᵀ is done once, at load (codegen/kernels/winograd-filter.ts, in float32, from the
 * stored 3×3 filters). The input and output transforms are generated as straight-line f32x4 code
 * from these matrices.
 *
 * The matrices are Toom-Cook's for correlation: Aᵀ is the Vandermonde matrix of the interpolation
 * points (plus the point at infinity), G row j is point j's powers over Π_{l≠j}(p_j − p_l), and Bᵀ row j
 * holds the coefficients of Π_{l≠j}(x − p_l) (the last row those of Π_l(x − p_l)). test/winograd.test.ts
 * checks each against the direct correlation.
 *
 * - F(4×4, 3×3), points 0, ±1, ±2, ∞: 36 multiplies per 16 outputs instead of 144.
 * - F(6×6, 3×3), points 0, ±1, ±2, ±1/2, ∞: 64 per 36 (5.1× fewer than direct on exact tiles).
 * - F(5×5, 3×3), points 0, ±1, ±2, 1/2, ∞: 49 per 25; m is odd, so it cannot fuse a 2×2 pool, but
 *   it covers a 14×14 map with 3×3 tiles (441 multiplies per channel pair where F(4×4) needs 576).
 *
 * Float32 error: vggc's full-size VGG-11/13/16/19 are within 3e-6 · max|y| of PyTorch with F(4×4)
 * (test/parity-torch.test.ts); F(6×6) measured 5.7e-6 (docs/performance.md, "Winograd in float32").
 */

/** The tile sizes vggc generates; the scheduler picks one per layer (schedule/winograd-plan.ts). */
export type WinogradTileName = 'f4x4' | 'f5x5' | 'f6x6';

export interface WinogradTransform {
  readonly name: WinogradTileName;
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

export const F6X6_3X3: WinogradTransform = {
  name: 'f6x6',
  m: 6,
  alpha: 8,
  BT: [
    [-1, 0, 21 / 4, 0, -21 / 4, 0, 1, 0],
    [0, 1, 1, -17 / 4, -17 / 4, 1, 1, 0],
    [0, -1, 1, 17 / 4, -17 / 4, -1, 1, 0],
    [0, 1 / 2, 1 / 4, -5 / 2, -5 / 4, 2, 1, 0],
    [0, -1 / 2, 1 / 4, 5 / 2, -5 / 4, -2, 1, 0],
    [0, 2, 4, -5 / 2, -5, 1 / 2, 1, 0],
    [0, -2, 4, 5 / 2, -5, -1 / 2, 1, 0],
    [0, -1, 0, 21 / 4, 0, -21 / 4, 0, 1],
  ],
  G: [
    [-1, 0, 0],
    [-2 / 9, -2 / 9, -2 / 9],
    [-2 / 9, 2 / 9, -2 / 9],
    [1 / 90, 1 / 45, 2 / 45],
    [1 / 90, -1 / 45, 2 / 45],
    [32 / 45, 16 / 45, 8 / 45],
    [32 / 45, -16 / 45, 8 / 45],
    [0, 0, 1],
  ],
  AT: [
    [1, 1, 1, 1, 1, 1, 1, 0],
    [0, 1, -1, 2, -2, 1 / 2, -1 / 2, 0],
    [0, 1, 1, 4, 4, 1 / 4, 1 / 4, 0],
    [0, 1, -1, 8, -8, 1 / 8, -1 / 8, 0],
    [0, 1, 1, 16, 16, 1 / 16, 1 / 16, 0],
    [0, 1, -1, 32, -32, 1 / 32, -1 / 32, 1],
  ],
};

export const F5X5_3X3: WinogradTransform = {
  name: 'f5x5',
  m: 5,
  alpha: 7,
  BT: [
    [-2, 4, 5 / 2, -5, -1 / 2, 1, 0],
    [0, 2, -2, -9 / 2, 1 / 2, 1, 0],
    [0, -2, 6, -7 / 2, -3 / 2, 1, 0],
    [0, 1, -3 / 2, -2, 3 / 2, 1, 0],
    [0, -1, 5 / 2, 0, -5 / 2, 1, 0],
    [0, 4, 0, -5, 0, 1, 0],
    [0, -2, 4, 5 / 2, -5, -1 / 2, 1],
  ],
  G: [
    [-1 / 2, 0, 0],
    [-1 / 3, -1 / 3, -1 / 3],
    [1 / 9, -1 / 9, 1 / 9],
    [1 / 36, 1 / 18, 1 / 9],
    [-1 / 60, 1 / 30, -1 / 15],
    [32 / 45, 16 / 45, 8 / 45],
    [0, 0, 1],
  ],
  AT: [
    [1, 1, 1, 1, 1, 1, 0],
    [0, 1, -1, 2, -2, 1 / 2, 0],
    [0, 1, 1, 4, 4, 1 / 4, 0],
    [0, 1, -1, 8, -8, 1 / 8, 0],
    [0, 1, 1, 16, 16, 1 / 16, 1],
  ],
};

export const WINOGRAD_TRANSFORMS: Readonly<Record<WinogradTileName, WinogradTransform>> = { f4x4: F4X4_3X3, f5x5: F5X5_3X3, f6x6: F6X6_3X3 };

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

