/**
 * The layouts in which weights.bin stores tensors: the order the generated kernels read them in,
 * so that loading is one read straight into wasm memory and nothing is transposed at run time.
 */
import type { ParamTensor } from '../graph/graph.js';

/** Output channels / features are grouped in blocks of this many, one pair of f32x4 registers. */
export const OUT_BLOCK = 8;

export type WeightLayout =
  /** Conv weight [Co][Ci][3][3] → [ceil(Co/8)][3][3][Ci][8]; element (cb,ky,kx,ci,j) = W[cb*8+j][ci][ky][kx], 0 where cb*8+j ≥ Co. */
  | 'conv3x3-oc8'
  /** Linear weight [O][I] → [ceil(O/8)][I][8]; element (ob,i,j) = W[ob*8+j][i], 0 where ob*8+j ≥ O. */
  | 'fc-oc8'
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
}

export const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

export function packedByteLength(param: ParamTensor, layout: WeightLayout, inChannelsPadded?: number): number {
  const s = param.shape;
  switch (layout) {
    case 'winograd-f4x4-oc8':
      return 36 * roundUp(s[0], OUT_BLOCK) * (inChannelsPadded ?? s[1]) * 4;
    case 'conv3x3-oc8':
      return roundUp(s[0], OUT_BLOCK) * s[1] * 9 * 4;
    case 'fc-oc8':
      return roundUp(s[0], OUT_BLOCK) * s[1] * 4;
    case 'bias-pad8':
      return roundUp(s[0], OUT_BLOCK) * 4;
  }
}

/** The file format of weights.bin is the runtime's (it reads it); the compiler writes it. */
export { WEIGHTS_MAGIC, WEIGHTS_HEADER_BYTES } from '../../runtime/weights-file.js';
/** Alignment of every tensor in the payload (a cache line). */
export const TENSOR_ALIGN = 64;
