/**
 * The layouts in which the weights payload (its shards) stores tensors: the order the generated kernels read them in,
 * so that loading is one read straight into wasm memory and nothing is transposed at run time.
 * A layout is a record the planner chooses and the packer and codegen read; `layoutName` writes the
 * short name model.json shows, and nothing parses that name back.
 */
import type { ParamTensor } from '../graph/graph.js';
import { WINOGRAD_TRANSFORMS, type WinogradTileName } from '../winograd/winograd.js';

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
/** Bytes per stored element of each dtype. */
export const ELEMENT_BYTES: Record<WeightsDtype, number> = { f32: 4, f16: 2, int8: 1 };

export type WeightLayout =
  /**
   * Conv weight [Co][Ci][3][3] → [ceil(Co/8)][3][3][Ci][8] of `dtype`; element (cb,ky,kx,ci,j) =
   * W[cb*8+j][ci][ky][kx], 0 where cb*8+j ≥ Co. int8 elements are the q of W ≈ q·scale[co] (scales
   * in an `int8-scales` tensor). `roundedTo`: f32 elements holding the values of that dtype (the
   * direct convolutions of f16/int8 models, whose kernels read f32).
   */
  | { readonly op: 'conv3x3'; readonly dtype: WeightsDtype; readonly roundedTo?: 'f16' | 'int8' }
  /** Linear weight [O][I] → [ceil(O/8)][I][8] of `dtype`; element (ob,i,j) = W[ob*8+j][i], 0 where ob*8+j ≥ O. */
  | { readonly op: 'linear'; readonly dtype: WeightsDtype }
  /**
   * Conv weight [Co][Ci][3][3] → Winograd F(m×m,3×3) filter transform U = G g Gᵀ (`tile`), stored
   * [α²][ceil(Co/8)][CiP][8] (frequency-major, then one [CiP][8] panel per 8-channel output block);
   * element (ξ,cb,ci,j) = U(W[cb*8+j][ci])[ξ], 0 for padded ci ≥ Ci or cb*8+j ≥ Co. CiP = the input
   * map's stored channel count.
   */
  | { readonly op: 'winograd'; readonly tile: WinogradTileName; readonly dtype: 'f32'; readonly inChannelsPadded: number }
  /** The per-output-row int8 scales of a weight [O][…] → [ceil(O/8)*8] float32, zero padded. */
  | { readonly op: 'int8-scales'; readonly dtype: 'f32' }
  /** Bias [N] → [ceil(N/8)*8] float32, zero padded. */
  | { readonly op: 'bias'; readonly dtype: 'f32' };

export interface PackedTensor {
  readonly param: ParamTensor;
  readonly layout: WeightLayout;
  /** Byte offset from the start of the payload (not of the file); a multiple of TENSOR_ALIGN. */
  readonly offset: number;
  readonly byteLength: number;
  /** Absolute byte address in wasm memory (the payload is loaded at the plan's weightsBase). */
  readonly address: number;
}

export const roundUp = (n: number, m: number): number => Math.ceil(n / m) * m;

/** The short name model.json gives a layout (for people and tools; the runtime never reads it). */
export function layoutName(l: WeightLayout): string {
  const element = { f32: '', f16: '-f16', int8: '-q8' }[l.dtype];
  switch (l.op) {
    case 'conv3x3':
      return `conv3x3${element}-oc8`;
    case 'linear':
      return `fc${element}-oc8`;
    case 'winograd':
      return `winograd-${l.tile}-oc8`;
    case 'int8-scales':
      return 'scale-q8-pad8';
    case 'bias':
      return 'bias-pad8';
  }
}

export function packedByteLength(param: ParamTensor, layout: WeightLayout): number {
  const s = param.shape;
  const rows = roundUp(s[0], OUT_BLOCK);
  const element = ELEMENT_BYTES[layout.dtype];
  switch (layout.op) {
    case 'winograd':
      return WINOGRAD_TRANSFORMS[layout.tile].alpha ** 2 * rows * layout.inChannelsPadded * element;
    case 'conv3x3':
      return rows * s[1] * 9 * element;
    case 'linear':
      return rows * s[1] * element;
    case 'int8-scales':
    case 'bias':
      return rows * element;
  }
}

/** Bytes of one float32, in the payload, the arena and the generated kernels alike. */
export const F32_BYTES = 4;
/** Bytes of one cache line on the CPUs vggc targets (x86-64 and Arm cores alike). */
export const CACHE_LINE_BYTES = 64;
/** Alignment of every tensor in the payload (a cache line). */
export const TENSOR_ALIGN = CACHE_LINE_BYTES;
