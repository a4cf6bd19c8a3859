/**
 * The layouts in which weights.bin stores tensors: the order the generated kernels read them in,
 * so that loading is one read straight into wasm memory and nothing is transposed at run time.
 */
import type { ParamTensor } from '../graph/graph.js';

/** Output channels / features are grouped in blocks of this many, one pair of f32x4 registers. */
export const OUT_BLOCK = 8;

/**
 * How weights are stored (`vggc compile --weights-dtype`). Weight-only: activations stay float32.
 * - `f32`: as trained.
 * - `f16`: IEEE half, rounded to nearest even.
 * - `int8`: symmetric, one scale per output channel/feature: W[o][…] ≈ q·scale[o], scale[o] = max|W[o]| / 127,
 *   q = round-half-even(W / scale[o]) in [-127, 127].
 * Fully-connected weights are stored in that dtype and dequantised inside the kernels. Winograd
 * convolutions store their 3×3 filters in that dtype too; a generated function dequantises and
 * transforms them into the f32 Winograd filter once, at load (the transformed values are not
 * representable in the dtype). Direct convolutions (VGG's first layer) store the dtype's values as f32.
 */
export type WeightsDtype = 'f32' | 'f16' | 'int8';
export const WEIGHTS_DTYPES: readonly WeightsDtype[] = ['f32', 'f16', 'int8'];
/** Largest int8 magnitude used: symmetric, so -128 is never produced. */
export const INT8_MAX = 127;

export type WeightLayout =
  /** Conv weight [Co][Ci][3][3] → [ceil(Co/8)][3][3][Ci][8]; element (cb,ky,kx,ci,j) = W[cb*8+j][ci][ky][kx], 0 where cb*8+j ≥ Co. */
  | 'conv3x3-oc8'
  /** As conv3x3-oc8, each element an IEEE half. */
  | 'conv3x3-f16-oc8'
  /** As conv3x3-oc8, each element the int8 q of W[co][…] ≈ q·scale[co]; scales in a scale-q8-pad8 tensor. */
  | 'conv3x3-q8-oc8'
  /** Linear weight [O][I] → [ceil(O/8)][I][8]; element (ob,i,j) = W[ob*8+j][i], 0 where ob*8+j ≥ O. */
  | 'fc-oc8'
  /** As fc-oc8, each element an IEEE half (2 bytes). */
  | 'fc-f16-oc8'
  /** As fc-oc8, each element the int8 q of W[o][i] ≈ q·scale[o] (1 byte); scales in a scale-q8-pad8 tensor. */
  | 'fc-q8-oc8'
  /** The per-output-row int8 scales of a weight [O][…] → [ceil(O/8)*8] float32, zero padded. */
  | 'scale-q8-pad8'
  /**
   * Conv weight [Co][Ci][3][3] → Winograd F(4×4,3×3) filter transform U = G g Gᵀ, stored
   * [36][ceil(Co/8)][CiP][8] (ξ-major, then one [CiP][8] panel per 8-channel output block); element
   * (ξ,cb,ci,j) = U(W[cb*8+j][ci])[ξ], 0 for padded ci ≥ Ci or cb*8+j ≥ Co. CiP = the input map's
   * stored channel count (inChannelsPadded).
   */
  | 'winograd-f4x4-oc8'
  /** Bias [N] → [ceil(N/8)*8], zero padded. */
  | 'bias-pad8';

export interface PackedTensor {
  readonly param: ParamTensor;
  readonly layout: WeightLayout;
  /** Byte offset from the start of the payload (not of the file); a multiple of 64. */
  readonly offset: number;
  readonly byteLength: number;
  /** winograd-f4x4-oc8 only: input channels rounded up to the input map's stored channel count. */
  readonly inChannelsPadded?: number;
  /** Float32 layouts of weights: the values are first rounded to this dtype's (default f32: unchanged). */
  readonly roundedTo?: WeightsDtype;
}

export const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

export function packedByteLength(param: ParamTensor, layout: WeightLayout, inChannelsPadded?: number): number {
  const s = param.shape;
  switch (layout) {
    case 'winograd-f4x4-oc8':
      return 36 * roundUp(s[0], OUT_BLOCK) * (inChannelsPadded ?? s[1]) * 4;
    case 'conv3x3-oc8':
      return roundUp(s[0], OUT_BLOCK) * s[1] * 9 * 4;
    case 'conv3x3-f16-oc8':
      return roundUp(s[0], OUT_BLOCK) * s[1] * 9 * 2;
    case 'conv3x3-q8-oc8':
      return roundUp(s[0], OUT_BLOCK) * s[1] * 9;
    case 'fc-oc8':
      return roundUp(s[0], OUT_BLOCK) * s[1] * 4;
    case 'fc-f16-oc8':
      return roundUp(s[0], OUT_BLOCK) * s[1] * 2;
    case 'fc-q8-oc8':
      return roundUp(s[0], OUT_BLOCK) * s[1];
    case 'scale-q8-pad8':
    case 'bias-pad8':
      return roundUp(s[0], OUT_BLOCK) * 4;
  }
}

/** The file format of weights.bin is the runtime's (it reads it); the compiler writes it. */
export { WEIGHTS_MAGIC, WEIGHTS_HEADER_BYTES } from '../../runtime/weights-file.js';
/** Alignment of every tensor in the payload (a cache line). */
export const TENSOR_ALIGN = 64;
