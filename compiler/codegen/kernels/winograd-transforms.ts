/**
 * The straight-line pieces of a Winograd F(m×m, 3×3) layer (winograd.ts), generated from the matrices
 * in compiler/winograd/: the input transform V = Bᵀ d B, the GEMM register tile, and the output
 * transform Y = Aᵀ M A with its bias, ReLU and optional 2×2 max-pool. All work on 4 channels (one
 * f32x4) of one tile at a time; the α² frequencies are ξ = i·α + j.
 */
import { OUT_BLOCK } from '../../weights/layout.js';
import type { WinogradTransform } from '../../winograd/winograd.js';
import { range } from '../text.js';
import { acc, BLOCK_BYTES, F32_BYTES, loadF32Weights, tileAccumulators, tileReduction, V128_BYTES } from './simd.js';

/** Σ coef·term as f32x4 code, skipping zero coefficients and multiplying only where |coef| ≠ 1. */
export function combo(terms: ReadonlyArray<readonly [number, string]>): string {
  let expr = '';
  for (const [c, e] of terms) {
    if (c === 0) continue;
    const scaled = Math.abs(c) === 1 ? e : `f32x4.mul(${e}, f32x4.splat(<f32>${Math.abs(c)}))`;
    if (!expr) expr = c < 0 ? `f32x4.neg(${scaled})` : scaled;
    else expr = c < 0 ? `f32x4.sub(${expr}, ${scaled})` : `f32x4.add(${expr}, ${scaled})`;
  }
  return expr || 'f32x4.splat(0)';
}

/** `@inline function {p}_inputTransform(src, dst)`: one α×α tile, 4 channels, V[ξ] at dst + ξ·vXi. */
export function inputTransform(p: string, t: WinogradTransform, rowBytes: number, pixelBytes: number, vXi: number): string[] {
  const a = t.alpha;
  const lines = [
    '',
    `// V = Bᵀ d B for one ${a}×${a} tile, 4 channels; writes V[ξ] at dst + ξ·V_XI.`,
    `// @ts-ignore: decorator`,
    `@inline function ${p}_inputTransform(src: usize, dst: usize): void {`,
  ];
  for (let r = 0; r < a; r++) for (let c = 0; c < a; c++) lines.push(`  const d${r}_${c} = v128.load(src, ${r * rowBytes + c * pixelBytes});`);
  // t = Bᵀ d (rows combined), then v = t B (columns combined)
  for (let i = 0; i < a; i++) for (let c = 0; c < a; c++) lines.push(`  const t${i}_${c} = ${combo(t.BT[i].map((k, r) => [k, `d${r}_${c}`] as const))};`);
  for (let i = 0; i < a; i++) for (let j = 0; j < a; j++) {
    lines.push(`  v128.store(dst, ${combo(t.BT[j].map((k, c) => [k, `t${i}_${c}`] as const))}, ${(i * a + j) * vXi});`);
  }
  lines.push('}');
  return lines;
}

/**
 * `@inline function {p}_outputTransform(src, bias, out, rows, cols)`: one tile, 4 channels; bias and
 * ReLU (and with `pool` the 2×2 max) before storing rows × cols of its pixels.
 */
export function outputTransform(p: string, t: WinogradTransform, pool: boolean, relu: boolean, mXi: number, rowBytes: number, pixelBytes: number): string[] {
  const { m, alpha: a } = t;
  const lines = [
    '',
    `// Y = Aᵀ M A for one tile, 4 channels; bias${relu ? ', ReLU' : ''}${pool ? ', 2×2 max-pool' : ''}; stores rows × cols pixels.`,
    `// @ts-ignore: decorator`,
    `@inline function ${p}_outputTransform(src: usize, bias: v128, out: usize, rows: i32, cols: i32): void {`,
  ];
  for (let r = 0; r < a; r++) for (let c = 0; c < a; c++) lines.push(`  const m${r}_${c} = v128.load(src, ${(r * a + c) * mXi});`);
  for (let i = 0; i < m; i++) for (let c = 0; c < a; c++) lines.push(`  const s${i}_${c} = ${combo(t.AT[i].map((k, r) => [k, `m${r}_${c}`] as const))};`);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) lines.push(`  const y${i}_${j} = ${combo(t.AT[j].map((k, c) => [k, `s${i}_${c}`] as const))};`);
  if (pool) {
    for (let r = 0; r < m / 2; r++) for (let c = 0; c < m / 2; c++) {
      const y = (i: number, j: number): string => `y${2 * r + i}_${2 * c + j}`;
      lines.push(`  if (${r} < rows && ${c} < cols) v128.store(out, relu4(f32x4.add(max4(max4(${y(0, 0)}, ${y(0, 1)}), max4(${y(1, 0)}, ${y(1, 1)})), bias)), ${r * rowBytes + c * pixelBytes});`);
    }
  } else {
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) {
      const value = `f32x4.add(y${i}_${j}, bias)`;
      lines.push(`  if (${i} < rows && ${j} < cols) v128.store(out, ${relu ? `relu4(${value})` : value}, ${i * rowBytes + j * pixelBytes});`);
    }
  }
  lines.push('}');
  return lines;
}

/**
 * `@inline function {p}_gemm{R}x8(a, u, m[, first])`: M[R rows][8] (+)= V[R rows][steps] · U panel
 * [steps][8], V's rows `vRow` floats apart. Chunked (`steps` input channels of Cin at a time), the
 * first chunk starts from zero and the next ones reload the partial sums from M, so every output still
 * sums its products in input-channel order.
 */
export function gemmTile(p: string, rows: number, vRow: number, cop: number, steps: number, chunked: boolean): string[] {
  const rowIn = vRow * F32_BYTES; // bytes between two tiles' rows of V
  const rowOut = cop * F32_BYTES; // … and of M
  return [
    '',
    `// ${rows} rows × ${OUT_BLOCK} channels: ${2 * rows} f32x4 accumulators over ${chunked ? `a chunk of ${steps}` : `Cin = ${steps}`} input channels.`,
    `// @ts-ignore: decorator`,
    `@inline function ${p}_gemm${rows}x${OUT_BLOCK}(a: usize, u: usize, m: usize${chunked ? ', first: bool' : ''}): void {`,
    `  const zero = f32x4.splat(0);`,
    ...(chunked
      ? range(rows).map((r) => `  let ${acc(r, 0)} = first ? zero : v128.load(m, ${r * rowOut}), ${acc(r, 1)} = first ? zero : v128.load(m, ${r * rowOut + V128_BYTES});`)
      : tileAccumulators(rows).map((l) => `  ${l}`)),
    `  let x: usize = a, k: usize = u;`,
    ...tileReduction({ shares: 'weights', rows, steps, rowInput: (r) => ({ address: 'x', offset: r * rowIn }), loadWeights: loadF32Weights, xStride: F32_BYTES, kStride: BLOCK_BYTES }).map((l) => `  ${l}`),
    ...range(rows).flatMap((r) => [`  v128.store(m, ${acc(r, 0)}, ${r * rowOut});`, `  v128.store(m, ${acc(r, 1)}, ${r * rowOut + V128_BYTES});`]),
    `}`,
  ];
}
