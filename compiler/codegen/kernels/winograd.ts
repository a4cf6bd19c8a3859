/**
 * 3×3 pad-1 convolution + bias + ReLU (+ fused 2×2 max-pool) by Winograd F(4×4, 3×3).
 *
 * Per block of whole tile rows (the work item), in the worker's scratch:
 *  1. input transform: each 6×6 input tile, 4 channels at a time (NHWC: one f32x4 holds 4 channels of
 *     a pixel), V = Bᵀ d B → V[ξ][tile][ci] for the 36 frequencies ξ;
 *  2. 36 GEMMs M[ξ] = V[ξ] · U[ξ] (tiles × Cin times Cin × Cout; U = G g Gᵀ packed at compile time for
 *     f32 weights, computed at load by winograd-filter.ts for f16/int8), register tile 4 tiles × 8
 *     output channels, reduction not unrolled (schedule.ts: CONV_UNROLL);
 *  3. output transform: Y = Aᵀ M A per tile, 4 channels at a time, then bias and ReLU — and with the
 *     pool fused, the 2×2 max of the 4×4 tile — applied in registers before the only store.
 * The transforms are straight-line code generated from the matrices in compiler/winograd/.
 */
import type { ConvSchedule } from '../../schedule/schedule.js';
import { WINOGRAD_GEMM_ROWS, WINOGRAD_GEMM_UNROLL } from '../../schedule/schedule.js';
import type { PlannedStep } from '../../plan/plan.js';
import { OUT_BLOCK, type WeightsDtype } from '../../weights/layout.js';
import { emitPrepareFilter } from './winograd-filter.js';
import { F4X4_3X3 } from '../../winograd/winograd.js';
import { constant, grouped, indent, layerHeader, range } from '../text.js';
import { emitZeroFrame, mapGeometry } from './border.js';

const F32 = 4;
const HALF = 16;
const T = F4X4_3X3;
const A = T.alpha; // 6
const XI = A * A; // 36 frequencies

export function emitWinograd(step: PlannedStep, weightsBase: number, dtype: WeightsDtype): string[] {
  const s = step.schedule as ConvSchedule;
  const wg = s.winograd;
  if (!wg || !step.weight || !step.bias || !step.scratch) throw new Error('codegen: Winograd step without its plan');
  const { conv, pool } = s.step;
  const p = `L${String(step.index).padStart(2, '0')}`;
  const inMap = mapGeometry(step.input);
  const outMap = mapGeometry(step.output);
  const ci = inMap.channelStride;
  const cop = s.outChannelsPadded;
  const vXi = wg.tilesPerBlockPadded * ci * F32;
  const mXi = wg.tilesPerBlockPadded * cop * F32;
  const stride = pool ? 2 : 4; // output pixels per tile side as stored
  const header = layerHeader(`layer ${step.index}: ${conv.id}${pool ? ' + pool' : ''} — ${s.kernel}`, [
    `in  ${conv.input.c}×${conv.input.h}×${conv.input.w} (stored NHWC ${inMap.rows}×${inMap.cols}×${ci}) at ${step.input.offset}`,
    `out ${s.step.output.c}×${outMap.h}×${outMap.w} (stored NHWC ${outMap.rows}×${outMap.cols}×${cop}) at ${step.output.offset}`,
    `tiles ${wg.tileRows}×${wg.tileCols} of 4×4 outputs in ${wg.blocks} block(s) of ${wg.tileRowsPerBlock} tile row(s); U [36][${cop / OUT_BLOCK}][${ci}][8] at ${step.prepared ? `${step.prepared.offset} (from ${dtype} filters at load)` : weightsBase + step.weight.offset}`,
    `work item = (block, group of ${wg.coBlocksPerGroup} 8-channel output blocks), ${wg.coGroups} group(s); a call transforms each block's input once`,
    `MACs ${grouped(s.macs)} direct-equivalent, ${grouped(wg.gemmMacs)} in the 36 GEMMs (${(s.macs / wg.gemmMacs).toFixed(2)}× fewer)`,
  ]);
  const consts = [
    constant(`${p}_IN`, step.input.offset, 'input map'),
    constant(`${p}_IN_PIXEL`, inMap.pixelBytes, 'bytes per input pixel'),
    constant(`${p}_IN_ROW`, inMap.rowBytes, 'bytes per stored input row'),
    constant(`${p}_CI`, ci, 'input channels as stored (multiple of 8)', 'i32'),
    constant(`${p}_OUT`, step.output.offset, 'output map'),
    constant(`${p}_OUT_PIXEL`, outMap.pixelBytes, 'bytes per output pixel'),
    constant(`${p}_OUT_ROW`, outMap.rowBytes, 'bytes per stored output row'),
    constant(`${p}_COP`, cop, 'output channels as stored', 'i32'),
    constant(`${p}_OUT_H`, outMap.h, 'output rows', 'i32'),
    constant(`${p}_OUT_W`, outMap.w, 'output columns', 'i32'),
    constant(`${p}_TILE_ROWS`, wg.tileRows, 'tile rows', 'i32'),
    constant(`${p}_TILE_COLS`, wg.tileCols, 'tiles per tile row', 'i32'),
    constant(`${p}_ROWS_PER_BLOCK`, wg.tileRowsPerBlock, 'tile rows per block', 'i32'),
    constant(`${p}_CO_GROUPS`, wg.coGroups, 'output-channel groups per block', 'i32'),
    constant(`${p}_CB_PER_GROUP`, wg.coBlocksPerGroup, '8-channel blocks per group', 'i32'),
    constant(`${p}_CO_BLOCKS`, cop / OUT_BLOCK, '8-channel output blocks', 'i32'),
    constant(`${p}_V_XI`, vXi, 'bytes per frequency in V (tiles × Cin)'),
    constant(`${p}_M_XI`, mXi, 'bytes per frequency in M (tiles × Cout)'),
    constant(`${p}_SCRATCH`, step.scratch.offset, 'per-worker scratch: V then M'),
    constant(`${p}_SCRATCH_WORKER`, step.scratch.bytesPerWorker, 'scratch bytes per worker'),
    constant(`${p}_U`, step.prepared ? step.prepared.offset : weightsBase + step.weight.offset, step.prepared ? 'transformed filters U (computed at load by the prepare function above)' : 'transformed filters U'),
    constant(`${p}_U_XI`, (cop / OUT_BLOCK) * ci * OUT_BLOCK * F32, 'bytes of U per frequency'),
    constant(`${p}_U_CB`, ci * OUT_BLOCK * F32, 'bytes of U per 8-channel output block'),
    constant(`${p}_B`, weightsBase + step.bias.offset, 'bias'),
  ];
  return [
    ...(step.prepared ? [...emitPrepareFilter(step, weightsBase, ci, dtype), ''] : []),
    ...header,
    ...consts,
    ...emitZeroFrame(`${p}_zeroFrame`, p, step.output),
    ...inputTransform(p, inMap.rowBytes, inMap.pixelBytes, vXi),
    ...gemmTile(p, ci, cop),
    ...outputTransform(p, pool, mXi, outMap.rowBytes, outMap.pixelBytes),
    `export function ${step.exportName}(itemStart: i32, itemEnd: i32, worker: i32): void {`,
    `  const V: usize = ${p}_SCRATCH + <usize>worker * ${p}_SCRATCH_WORKER;`,
    `  const M: usize = V + ${XI} * ${p}_V_XI;`,
    `  let transformed = -1; // block whose input transform is in V`,
    `  for (let item = itemStart; item < itemEnd; item++) {`,
    `    const b = item / ${p}_CO_GROUPS, g = item % ${p}_CO_GROUPS;`,
    `    const cb0 = g * ${p}_CB_PER_GROUP, cb1 = min(cb0 + ${p}_CB_PER_GROUP, ${p}_CO_BLOCKS);`,
    `    const tr0 = b * ${p}_ROWS_PER_BLOCK;`,
    `    const tr1 = min(tr0 + ${p}_ROWS_PER_BLOCK, ${p}_TILE_ROWS);`,
    `    const tiles = (tr1 - tr0) * ${p}_TILE_COLS;`,
    `    if (b != transformed) {`,
    `      // 1. input transform, tile by tile (once per block and call)`,
    `      for (let t = 0; t < tiles; t++) {`,
    `        const tr = tr0 + t / ${p}_TILE_COLS, tc = t % ${p}_TILE_COLS;`,
    `        const src: usize = ${p}_IN + <usize>(4 * tr) * ${p}_IN_ROW + <usize>(4 * tc) * ${p}_IN_PIXEL;`,
    `        const dst: usize = V + <usize>t * ${ci * F32};`,
    `        for (let c = 0; c < ${p}_CI; c += 4) ${p}_inputTransform(src + <usize>c * 4, dst + <usize>c * 4);`,
    `      }`,
    `      transformed = b;`,
    `    }`,
    `    // 2. one GEMM per frequency for this group's channels; rows past \`tiles\` (up to the next multiple of ${WINOGRAD_GEMM_ROWS}) are computed and ignored`,
    `    for (let xi = 0; xi < ${XI}; xi++) {`,
    `      for (let cb = cb0; cb < cb1; cb++) {`,
    `        const u: usize = ${p}_U + <usize>xi * ${p}_U_XI + <usize>cb * ${p}_U_CB;`,
    `        let a: usize = V + <usize>xi * ${p}_V_XI;`,
    `        let m: usize = M + <usize>xi * ${p}_M_XI + <usize>cb * ${OUT_BLOCK * F32};`,
    `        for (let t = 0; t < tiles; t += ${WINOGRAD_GEMM_ROWS}) {`,
    `          ${p}_gemm${WINOGRAD_GEMM_ROWS}x8(a, u, m);`,
    `          a += ${WINOGRAD_GEMM_ROWS * ci * F32};`,
    `          m += ${WINOGRAD_GEMM_ROWS * cop * F32};`,
    `        }`,
    `      }`,
    `    }`,
    `    // 3. output transform + bias + ReLU${pool ? ' + 2×2 max-pool' : ''} for this group's channels; only pixels inside the map are stored`,
    `    for (let t = 0; t < tiles; t++) {`,
    `      const tr = tr0 + t / ${p}_TILE_COLS, tc = t % ${p}_TILE_COLS;`,
    `      const rows = min(${stride}, ${p}_OUT_H - ${stride} * tr), cols = min(${stride}, ${p}_OUT_W - ${stride} * tc);`,
    `      const src: usize = M + <usize>t * ${cop * F32};`,
    `      const out: usize = ${p}_OUT + <usize>(${stride} * tr + 1) * ${p}_OUT_ROW + <usize>(${stride} * tc + 1) * ${p}_OUT_PIXEL;`,
    `      for (let c = cb0 * ${OUT_BLOCK}; c < cb1 * ${OUT_BLOCK}; c += 4) ${p}_outputTransform(src + <usize>c * 4, v128.load(${p}_B + <usize>c * 4), out + <usize>c * 4, rows, cols);`,
    `    }`,
    `    if (g == 0) ${p}_zeroFrame(${stride} * tr0, min(${stride} * tr1, ${p}_OUT_H)); // whole pixels: once per block`,
    `  }`,
    `}`,
  ];
}

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

function inputTransform(p: string, rowBytes: number, pixelBytes: number, vXi: number): string[] {
  const lines = [
    '',
    `// V = Bᵀ d B for one 6×6 tile, 4 channels; writes V[ξ] at dst + ξ·V_XI.`,
    `// @ts-ignore: decorator`,
    `@inline function ${p}_inputTransform(src: usize, dst: usize): void {`,
  ];
  for (let r = 0; r < A; r++) for (let c = 0; c < A; c++) lines.push(`  const d${r}_${c} = v128.load(src, ${r * rowBytes + c * pixelBytes});`);
  // t = Bᵀ d (rows combined), then v = t B (columns combined)
  for (let i = 0; i < A; i++) for (let c = 0; c < A; c++) lines.push(`  const t${i}_${c} = ${combo(T.BT[i].map((k, r) => [k, `d${r}_${c}`] as const))};`);
  for (let i = 0; i < A; i++) for (let j = 0; j < A; j++) {
    lines.push(`  v128.store(dst, ${combo(T.BT[j].map((k, c) => [k, `t${i}_${c}`] as const))}, ${(i * A + j) * vXi});`);
  }
  lines.push('}');
  return lines;
}

function outputTransform(p: string, pool: boolean, mXi: number, rowBytes: number, pixelBytes: number): string[] {
  const m = T.m;
  const lines = [
    '',
    `// Y = Aᵀ M A for one tile, 4 channels; bias, ReLU${pool ? ', 2×2 max-pool' : ''}; stores rows × cols pixels.`,
    `// @ts-ignore: decorator`,
    `@inline function ${p}_outputTransform(src: usize, bias: v128, out: usize, rows: i32, cols: i32): void {`,
  ];
  for (let r = 0; r < A; r++) for (let c = 0; c < A; c++) lines.push(`  const m${r}_${c} = v128.load(src, ${(r * A + c) * mXi});`);
  for (let i = 0; i < m; i++) for (let c = 0; c < A; c++) lines.push(`  const s${i}_${c} = ${combo(T.AT[i].map((k, r) => [k, `m${r}_${c}`] as const))};`);
  for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) lines.push(`  const y${i}_${j} = ${combo(T.AT[j].map((k, c) => [k, `s${i}_${c}`] as const))};`);
  if (pool) {
    for (let a = 0; a < 2; a++) for (let b = 0; b < 2; b++) {
      const y = (i: number, j: number): string => `y${2 * a + i}_${2 * b + j}`;
      lines.push(`  if (${a} < rows && ${b} < cols) v128.store(out, relu4(f32x4.add(max4(max4(${y(0, 0)}, ${y(0, 1)}), max4(${y(1, 0)}, ${y(1, 1)})), bias)), ${a * rowBytes + b * pixelBytes});`);
    }
  } else {
    for (let i = 0; i < m; i++) for (let j = 0; j < m; j++) {
      lines.push(`  if (${i} < rows && ${j} < cols) v128.store(out, relu4(f32x4.add(y${i}_${j}, bias)), ${i * rowBytes + j * pixelBytes});`);
    }
  }
  lines.push('}');
  return lines;
}

/** M[rows r..r+3][8 channels] = V[rows][Cin] · U panel [Cin][8]: the 4×8 f32x4 microkernel. */
function gemmTile(p: string, ci: number, cop: number): string[] {
  const R = WINOGRAD_GEMM_ROWS;
  const U = WINOGRAD_GEMM_UNROLL;
  if (ci % U) throw new Error(`codegen: Winograd input channels ${ci} not a multiple of the unroll ${U}`);
  const stepCode = (u: number): string[] => [
    `{`,
    `  const w0 = v128.load(k, ${u * 32}), w1 = v128.load(k, ${u * 32 + HALF});`,
    ...range(R).map((r) => `  const x${r} = v128.load32_splat(x, ${r * ci * F32 + u * F32}); acc${r}_0 = madd(acc${r}_0, x${r}, w0); acc${r}_1 = madd(acc${r}_1, x${r}, w1);`),
    `}`,
  ];
  return [
    '',
    `// ${R} rows × 8 channels: ${2 * R} f32x4 accumulators over Cin = ${ci}, unrolled ×${U}.`,
    `// @ts-ignore: decorator`,
    `@inline function ${p}_gemm${R}x8(a: usize, u: usize, m: usize): void {`,
    `  const zero = f32x4.splat(0);`,
    ...range(R).map((r) => `  let acc${r}_0 = zero, acc${r}_1 = zero;`),
    `  let x: usize = a, k: usize = u;`,
    `  for (let i = 0; i < ${ci / U}; i++) {`,
    ...indent(range(U).flatMap(stepCode), 2),
    `    x += ${U * F32};`,
    `    k += ${U * 32};`,
    `  }`,
    ...range(R).flatMap((r) => [`  v128.store(m, acc${r}_0, ${r * cop * F32});`, `  v128.store(m, acc${r}_1, ${r * cop * F32 + HALF});`]),
    `}`,
  ];
}
