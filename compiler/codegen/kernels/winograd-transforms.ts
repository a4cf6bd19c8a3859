/**
 * The straight-line pieces of a Winograd F(m×m, 3×3) layer (winograd.ts), generated from the matrices
 * in compiler/winograd/: the input transform V = Bᵀ d B, the GEMM register tile, and the output
 * transform Y = Aᵀ M A with its bias, ReLU and optional 2×2 max-pool. All work on 4 channels (one
 * f32x4) of one tile at a time; the α² frequencies are ξ = i·α + j.
 *
 * The transforms share partial sums the way the Toom-Cook matrices allow (pairedRows, pairedColumns,
 * groupedCombo): F(6×6)'s input transform takes 608 f32x4 operations instead of 1,104 (one sum per
 * output), its output transform 420 instead of 728, and they ran 1.5–1.7× faster timed alone; VGG-11
 * as a whole 0.977 at one thread and 0.980 at two (docs/performance.md, "Transforms with shared
 * terms, again").
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

/**
 * Σ coef·term with the terms of equal |coef| summed first and multiplied once: Toom-Cook matrices
 * repeat their coefficients (−5.25·d2 + 5.25·d4 is 5.25·(d4 − d2)), so this costs fewer f32x4 operations
 * than combo(). The sums run in a fixed order, so the generated code is the same on every engine.
 */
export function groupedCombo(terms: ReadonlyArray<readonly [number, string]>): string {
  const groups = new Map<number, Array<readonly [number, string]>>();
  for (const [c, e] of terms) if (c !== 0) groups.set(Math.abs(c), [...(groups.get(Math.abs(c)) ?? []), [c, e]]);
  const scaled: Array<readonly [number, string]> = [];
  for (const [size, members] of groups) {
    // Sum the group with its first positive member first (all negative: sum them and negate the group).
    const negated = members.every(([c]) => c < 0);
    const ordered = [...members].sort(([c1], [c2]) => Number(c2 > 0) - Number(c1 > 0));
    const sum = combo(ordered.map(([c, e]) => [negated ? 1 : Math.sign(c), e] as const));
    scaled.push([negated ? -size : size, sum]);
  }
  return combo(scaled);
}

/**
 * `const out(i) = Σ_r M[i][r]·x(r)` for every row i of M. Rows that differ only in the sign of their
 * odd-indexed coefficients (Bᵀ's rows for the points ±p) share their even and odd partial sums:
 * out(i) = E + O, out(j) = E − O, about half the operations of two separate sums.
 */
export function pairedRows(M: readonly (readonly number[])[], x: (r: number) => string, out: (i: number) => string, tmp: string): string[] {
  const lines: string[] = [];
  const done = new Set<number>();
  const terms = (i: number, parity: number | null): Array<readonly [number, string]> => M[i].flatMap((k, r) => (parity === null || r % 2 === parity ? [[k, x(r)] as const] : []));
  for (let i = 0; i < M.length; i++) {
    if (done.has(i)) continue;
    const hasOdd = M[i].some((k, r) => r % 2 === 1 && k !== 0);
    const j = M.findIndex((row, jj) => jj > i && !done.has(jj) && hasOdd && row.every((k, r) => k === (r % 2 ? -M[i][r] : M[i][r])));
    if (j < 0) {
      lines.push(`  const ${out(i)} = ${groupedCombo(terms(i, null))};`);
      continue;
    }
    done.add(j);
    lines.push(`  const ${tmp}e${i} = ${groupedCombo(terms(i, 0))}, ${tmp}o${i} = ${groupedCombo(terms(i, 1))};`);
    lines.push(`  const ${out(i)} = f32x4.add(${tmp}e${i}, ${tmp}o${i}), ${out(j)} = f32x4.sub(${tmp}e${i}, ${tmp}o${i});`);
  }
  return lines;
}

/**
 * `const out(i) = Σ_c M[i][c]·x(c)` for every row i of M, where columns come in pairs whose
 * coefficients agree in even rows and are opposite in odd ones (Aᵀ's columns for the points ±p):
 * each pair is summed and differenced once, x(c) + x(c′) for the even rows and x(c) − x(c′) for the odd.
 */
export function pairedColumns(M: readonly (readonly number[])[], x: (c: number) => string, out: (i: number) => string, tmp: string): string[] {
  const lines: string[] = [];
  const cols = M[0].length;
  const partner = new Map<number, number>();
  for (let c = 0; c < cols; c++) {
    if (partner.has(c) || M.every((row) => row[c] === 0)) continue;
    for (let d = c + 1; d < cols; d++) {
      if (!partner.has(d) && M.every((row, i) => row[d] === (i % 2 ? -row[c] : row[c]))) {
        partner.set(c, d).set(d, c);
        lines.push(`  const ${tmp}s${c} = f32x4.add(${x(c)}, ${x(d)}), ${tmp}d${c} = f32x4.sub(${x(c)}, ${x(d)});`);
        break;
      }
    }
  }
  for (let i = 0; i < M.length; i++) {
    const terms = M[i].flatMap((k, c): Array<readonly [number, string]> => {
      const d = partner.get(c);
      if (d === undefined) return [[k, x(c)]];
      return d > c ? [[k, i % 2 ? `${tmp}d${c}` : `${tmp}s${c}`]] : [];
    });
    lines.push(`  const ${out(i)} = ${groupedCombo(terms)};`);
  }
  return lines;
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
  for (let c = 0; c < a; c++) lines.push(...pairedRows(t.BT, (r) => `d${r}_${c}`, (i) => `t${i}_${c}`, `e${c}`));
  for (let i = 0; i < a; i++) {
    lines.push(...pairedRows(t.BT, (c) => `t${i}_${c}`, (j) => `v${i}_${j}`, `f${i}`));
    for (let j = 0; j < a; j++) lines.push(`  v128.store(dst, v${i}_${j}, ${(i * a + j) * vXi});`);
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
  for (let c = 0; c < a; c++) lines.push(...pairedColumns(t.AT, (r) => `m${r}_${c}`, (i) => `s${i}_${c}`, `p${c}`));
  for (let i = 0; i < m; i++) lines.push(...pairedColumns(t.AT, (c) => `s${i}_${c}`, (j) => `y${i}_${j}`, `q${i}`));
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
