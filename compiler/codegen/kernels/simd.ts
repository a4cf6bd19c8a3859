/**
 * What every SIMD kernel shares: byte sizes of the values they move, and the one register-tile
 * reduction that the direct convolution, the Winograd GEMM and the fully-connected GEMM all run.
 *
 * The register tile is `rows` × 8 outputs (8 = one output block, two f32x4 accumulators per row).
 * Each reduction step loads 8 weights into w0/w1 once and, for every row, broadcasts that row's one
 * input value and multiply-adds it into both halves. The loop is deliberately not unrolled: V8
 * hoists every load of an unrolled body to its top and spills accumulators (docs/performance.md).
 */
import { F32_BYTES, OUT_BLOCK } from '../../weights/layout.js';
import { range } from '../text.js';

export { F32_BYTES };
/** Bytes of one v128: also the offset of the second f32x4 half of an 8-wide block. */
export const V128_BYTES = 16;
/** Bytes of one 8-wide block of float32 (two v128). */
export const BLOCK_BYTES = OUT_BLOCK * F32_BYTES;

/**
 * A register tile. Its rows either share each step's 8 weights and broadcast their own input value
 * (pixels, Winograd tiles, images: `shares: 'weights'`), or share the step's input value and read
 * their own 8 weights (the output blocks of a one-image fully-connected layer: `shares: 'input'`).
 */
export type RegisterTile = {
  /** Rows of the tile. */
  readonly rows: number;
  /** Reduction steps per loop (its trip count). */
  readonly steps: number;
  /** Bytes the input pointer `x` and the weight pointer `k` advance per step. */
  readonly xStride: number;
  readonly kStride: number;
} & (
  | {
      readonly shares: 'weights';
      /** Statement(s) declaring w0 and w1, the step's 8 weights as two f32x4, read from pointer `k`. */
      readonly loadWeights: string;
      /** Where row r's input value for the current step is: an address expression and an immediate byte offset. */
      readonly rowInput: (r: number) => { readonly address: string; readonly offset: number };
    }
  | {
      readonly shares: 'input';
      /** Statement(s) declaring w0 and w1 for row r from pointer `k` (row r's weights start r rows of weights further). */
      readonly loadRowWeights: (r: number) => string;
    }
);

/** Accumulator of row r, half h (lanes 0–3 or 4–7 of the 8-wide output block). */
export const acc = (r: number, h: 0 | 1): string => `acc${r}_${h}`;

/** `let acc0_0 = zero, acc0_1 = zero; …` for every row (needs `zero` in scope). */
export function tileAccumulators(rows: number): string[] {
  return range(rows).map((r) => `let ${acc(r, 0)} = zero, ${acc(r, 1)} = zero;`);
}

/**
 * One reduction loop over the tile, advancing `x` and `k` (both `let` in scope). Every accumulator
 * sums its products in reduction order, acc = madd(acc, x, w), whatever the tile: so a kernel's
 * output does not depend on which tile computed it.
 */
export function tileReduction(t: RegisterTile): string[] {
  const update = (r: number, x: string): string => `${acc(r, 0)} = madd(${acc(r, 0)}, ${x}, w0); ${acc(r, 1)} = madd(${acc(r, 1)}, ${x}, w1);`;
  const body =
    t.shares === 'weights'
      ? [
          `  ${t.loadWeights}`,
          ...range(t.rows).map((r) => {
            const { address, offset } = t.rowInput(r);
            return `  const x${r} = v128.load32_splat(${address}, ${offset}); ${update(r, `x${r}`)}`;
          }),
        ]
      : [`  const x0 = v128.load32_splat(x);`, ...range(t.rows).map((r) => `  { ${t.loadRowWeights(r)} ${update(r, 'x0')} }`)];
  return [`for (let i = 0; i < ${t.steps}; i++) {`, ...body, `  x += ${t.xStride};`, `  k += ${t.kStride};`, `}`];
}

/** w0/w1 from 8 float32 weights at k. */
export const loadF32Weights = `const w0 = v128.load(k), w1 = v128.load(k, ${V128_BYTES});`;
