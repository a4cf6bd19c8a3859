/**
 * 3×3 pad-1 convolution + bias + ReLU (+ fused 2×2 max-pool) by Winograd F(m×m, 3×3), the tile size
 * the scheduler chose for the layer (F(4×4), F(5×5) or F(6×6); schedule/winograd-plan.ts). Its reference
 * is the direct scalar kernel (conv3x3-ref.ts): the tests hold the two to the transforms' float32 error.
 *
 * Per block of whole tile rows (the work item), in the worker's scratch:
 *  1. input transform: each α×α input tile, 4 channels at a time (NHWC: one f32x4 holds 4 channels of
 *     a pixel), V = Bᵀ d B → V[ξ][tile][ci] for the α² frequencies ξ;
 *  2. α² GEMMs M[ξ] = V[ξ] · U[ξ] (tiles × Cin times Cin × Cout; U = G g Gᵀ computed at load
 *     from the stored 3×3 filters by winograd-filter.ts), with the shared register tile
 *     (simd.ts) of 4 tiles × 8 output channels, and 5-tile ones where the block's tile count needs
 *     them (schedule/winograd-plan.ts, rowTilesOf), so that no tile row is padded. How each U panel
 *     comes in from memory is the layer's stream mode (WinogradStream): read by the first register
 *     tile (`plain`), read ahead by touchLines (`prefetch`), or taken a chunk of input channels at a
 *     time by every register tile in turn, partial sums kept in M (`chunked`); the same sums in the
 *     same order in every mode;
 *  3. output transform: Y = Aᵀ M A per tile, 4 channels at a time, then bias and ReLU — and with the
 *     pool fused, the 2×2 max of the m×m tile — applied in registers before the only store.
 * The transforms are straight-line code generated from the matrices (winograd-transforms.ts).
 */
import type { WinogradConvStep } from '../../program.js';
import { type BlockRowTiles, describeRowTiles, describeStream, WINOGRAD_GEMM_ROWS, WINOGRAD_GEMM_ROWS_WIDE } from '../../schedule/winograd-plan.js';
import { OUT_BLOCK, type WeightsDtype } from '../../weights/layout.js';
import { constant, grouped, layerHeader, stepPrefix } from '../text.js';
import { emitZeroFrame, mapConstants, mapGeometry } from './border.js';
import { BLOCK_BYTES, F32_BYTES } from './simd.js';
import { emitPrepareFilter } from './winograd-filter.js';
import { gemmTile, inputTransform, outputTransform } from './winograd-transforms.js';

export function emitWinograd(step: WinogradConvStep, dtype: WeightsDtype): string[] {
  const s = step.schedule;
  const wg = s.winograd;
  const T = wg.transform;
  /** The α² frequencies of one tile. */
  const XI = T.alpha * T.alpha;
  const { conv, pool } = s.layer;
  const p = stepPrefix(step.index);
  const inMap = mapGeometry(step.input);
  const outMap = mapGeometry(step.output);
  const ci = s.inStride;
  const cop = s.outStride;
  const vXi = wg.vSlabBytes;
  const mXi = wg.mSlabBytes;
  const u = step.prepared ? step.prepared.address : step.weight.address;
  const R = WINOGRAD_GEMM_ROWS;
  const R5 = WINOGRAD_GEMM_ROWS_WIDE;
  const rowTiles = wg.rowTiles;
  const kc = wg.reductionChunk;
  const chunked = kc < ci;
  // Floats between two tiles' rows of V: a whole chunk, which is all of Cin unless chunked (V is
  // stored chunk-major, [ξ][chunk][tile][kc], so a tile's row within a chunk holds kc floats).
  const vRow = kc;
  const tileRowsUsed = [...new Set(rowTiles.flatMap((r) => [...(r.fours ? [R] : []), ...(r.fives ? [R5] : []), ...(r.tail ? [r.tail] : [])]))].sort((x, y) => x - y);
  const header = layerHeader(`layer ${step.index}: ${conv.id}${pool ? ' + pool' : ''} — ${step.kernel}`, [
    `in  ${conv.input.c}×${conv.input.h}×${conv.input.w} (stored NHWC ${inMap.rows}×${inMap.cols}×${ci}) at ${step.input.offset}`,
    `out ${s.layer.output.c}×${outMap.h}×${outMap.w} (stored NHWC ${outMap.rows}×${outMap.cols}×${cop}) at ${step.output.offset}`,
    `tiles ${wg.tileRows}×${wg.tileCols} of ${T.m}×${T.m} outputs in ${wg.blocks} block(s) of ${wg.tileRowsPerBlock} tile row(s); GEMM register tiles ${rowTiles.map(describeRowTiles).join(', ')}${describeStream(wg)}`,
    `U [${XI}][${cop / OUT_BLOCK}][${ci}][${OUT_BLOCK}] at ${step.prepared ? `${u} (from ${dtype} filters at load)` : u}`,
    `work item = (block, group of ${wg.coBlocksPerGroup} 8-channel output blocks), ${wg.coGroups} group(s); a call transforms each block's input once`,
    `MACs ${grouped(s.macs)} direct-equivalent, ${grouped(wg.gemmMacs)} in the ${XI} GEMMs (${(s.macs / wg.gemmMacs).toFixed(2)}× fewer)`,
  ]);
  const consts = [
    ...mapConstants(p, step.input, step.output),
    constant(`${p}_CI`, ci, 'input channels as stored (multiple of 8)', 'i32'),
    constant(`${p}_COP`, cop, 'output channels as stored', 'i32'),
    constant(`${p}_OUT_H`, outMap.h, 'output rows', 'i32'),
    constant(`${p}_OUT_W`, outMap.w, 'output columns', 'i32'),
    constant(`${p}_TILE`, T.m, 'input pixels between two tiles (each computes m×m outputs)', 'i32'),
    constant(`${p}_TILE_OUT`, pool ? T.m / 2 : T.m, pool ? 'stored pixels per tile side (m, halved by the pool)' : 'stored pixels per tile side (m)', 'i32'),
    constant(`${p}_TILE_ROWS`, wg.tileRows, 'tile rows', 'i32'),
    constant(`${p}_TILE_COLS`, wg.tileCols, 'tiles per tile row', 'i32'),
    constant(`${p}_ROWS_PER_BLOCK`, wg.tileRowsPerBlock, 'tile rows per block', 'i32'),
    constant(`${p}_CO_GROUPS`, wg.coGroups, 'output-channel groups per block', 'i32'),
    constant(`${p}_CB_PER_GROUP`, wg.coBlocksPerGroup, '8-channel blocks per group', 'i32'),
    constant(`${p}_CO_BLOCKS`, cop / OUT_BLOCK, '8-channel output blocks', 'i32'),
    ...(chunked
      ? [
          constant(`${p}_KC`, kc, 'input channels per GEMM chunk: the U panel streams in at an even rate', 'i32'),
          constant(`${p}_V_CHUNK`, wg.tilesPerBlock * kc * F32_BYTES, 'bytes per chunk of V (tiles × KC), V[ξ] being stored chunk-major'),
        ]
      : []),
    constant(`${p}_XI`, XI, 'frequencies per tile (α²)', 'i32'),
    constant(`${p}_V_XI`, vXi, 'bytes per frequency in V (tiles × Cin, padded to an odd number of cache lines: see slabBytes)'),
    constant(`${p}_M_XI`, mXi, 'bytes per frequency in M (tiles × Cout, padded likewise)'),
    constant(`${p}_V_ROW`, vRow * F32_BYTES, chunked ? "bytes between two tiles' rows of V within a chunk (KC channels)" : "bytes between two tiles' rows of V (Cin)"),
    constant(`${p}_M_ROW`, cop * F32_BYTES, "bytes between two tiles' rows of M (Cout)"),
    constant(`${p}_OUT_BLOCK_BYTES`, BLOCK_BYTES, "bytes of 8 output channels: a U panel's row per input channel, one block of an M row"),
    constant(`${p}_SCRATCH`, step.scratch.offset, 'per-worker scratch: V then M'),
    constant(`${p}_SCRATCH_WORKER`, step.scratch.bytesPerWorker, 'scratch bytes per worker'),
    constant(`${p}_U`, u, step.prepared ? 'transformed filters U (computed at load by the prepare function above)' : 'transformed filters U'),
    constant(`${p}_U_XI`, (cop / OUT_BLOCK) * ci * OUT_BLOCK * F32_BYTES, 'bytes of U per frequency'),
    constant(`${p}_U_CB`, ci * OUT_BLOCK * F32_BYTES, 'bytes of U per 8-channel output block'),
    constant(`${p}_B`, step.bias.address, 'bias'),
  ];
  return [
    ...(step.prepared ? [...emitPrepareFilter(step, dtype), ''] : []),
    ...header,
    ...consts,
    ...emitZeroFrame(`${p}_zeroFrame`, p, step.output),
    ...inputTransform(p, T, inMap.rowBytes, inMap.pixelBytes, vXi),
    ...tileRowsUsed.flatMap((rows) => gemmTile(p, rows, vRow, cop, kc, chunked)),
    ...outputTransform(p, T, pool, s.layer.relu, mXi, outMap.rowBytes, outMap.pixelBytes),
    `export function ${step.exportName}(itemStart: i32, itemEnd: i32, worker: i32): void {`,
    `  const V: usize = ${p}_SCRATCH + <usize>worker * ${p}_SCRATCH_WORKER;`,
    `  const M: usize = V + <usize>${p}_XI * ${p}_V_XI;`,
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
    `        const src: usize = ${p}_IN + <usize>(${p}_TILE * tr) * ${p}_IN_ROW + <usize>(${p}_TILE * tc) * ${p}_IN_PIXEL;`,
    ...(chunked
          ? [
              `        // V is stored chunk-major ([ξ][chunk][tile][${kc}]): each GEMM chunk reads one contiguous run`,
              `        for (let k = 0; k < ${p}_CI; k += ${p}_KC) {`,
              `          const dst: usize = V + <usize>(k / ${p}_KC) * ${p}_V_CHUNK + <usize>t * ${p}_V_ROW;`,
              `          for (let c = 0; c < ${p}_KC; c += 4) ${p}_inputTransform(src + <usize>(k + c) * ${F32_BYTES}, dst + <usize>c * ${F32_BYTES});`,
              `        }`,
            ]
          : [
              `        const dst: usize = V + <usize>t * ${p}_V_ROW;`,
              `        for (let c = 0; c < ${p}_CI; c += 4) ${p}_inputTransform(src + <usize>c * ${F32_BYTES}, dst + <usize>c * ${F32_BYTES});`,
            ]),
    `      }`,
    `      transformed = b;`,
    `    }`,
    `    // 2. one GEMM per frequency for this group's channels, in register tiles of ${R5} and ${R} tiles (see the header)`,
    ...rowTileCounts(rowTiles),
    `    for (let xi = 0; xi < ${p}_XI; xi++) {`,
    `      for (let cb = cb0; cb < cb1; cb++) {`,
    ...(wg.stream === 'prefetch' ? [`        touchLines(${p}_U + <usize>xi * ${p}_U_XI + <usize>cb * ${p}_U_CB, ${p}_U_CB); // the panel's lines, read ahead of the register tiles`] : []),
    ...(chunked
      ? [
          `        for (let k = 0; k < ${p}_CI; k += ${p}_KC) {`,
          `          const first = k == 0;`,
          `          const u: usize = ${p}_U + <usize>xi * ${p}_U_XI + <usize>cb * ${p}_U_CB + <usize>k * ${p}_OUT_BLOCK_BYTES;`,
          `          let a: usize = V + <usize>xi * ${p}_V_XI + <usize>(k / ${p}_KC) * ${p}_V_CHUNK;`,
          `          let m: usize = M + <usize>xi * ${p}_M_XI + <usize>cb * ${p}_OUT_BLOCK_BYTES;`,
        ]
      : [
          `        {`,
          `          const u: usize = ${p}_U + <usize>xi * ${p}_U_XI + <usize>cb * ${p}_U_CB;`,
          `          let a: usize = V + <usize>xi * ${p}_V_XI;`,
          `          let m: usize = M + <usize>xi * ${p}_M_XI + <usize>cb * ${p}_OUT_BLOCK_BYTES;`,
        ]),
    ...(rowTiles.some((r) => r.fives) ? gemmRun(p, R5, 'fives', chunked) : []),
    ...(rowTiles.some((r) => r.fours) ? gemmRun(p, R, 'fours', chunked) : []),
    ...rowTiles.filter((r) => r.tail).map((r) => `          if (tiles == ${r.tiles}) ${p}_gemm${r.tail}x${OUT_BLOCK}(a, u, m${chunked ? ', first' : ''});`),
    `        }`,
    `      }`,
    `    }`,
    `    // 3. output transform + bias + ReLU${pool ? ' + 2×2 max-pool' : ''} for this group's channels; only pixels inside the map are stored`,
    `    for (let t = 0; t < tiles; t++) {`,
    `      const tr = tr0 + t / ${p}_TILE_COLS, tc = t % ${p}_TILE_COLS;`,
    `      const rows = min(${p}_TILE_OUT, ${p}_OUT_H - ${p}_TILE_OUT * tr), cols = min(${p}_TILE_OUT, ${p}_OUT_W - ${p}_TILE_OUT * tc);`,
    `      const src: usize = M + <usize>t * ${p}_M_ROW;`,
    `      const out: usize = ${p}_OUT + <usize>(${p}_TILE_OUT * tr + 1) * ${p}_OUT_ROW + <usize>(${p}_TILE_OUT * tc + 1) * ${p}_OUT_PIXEL;`,
    `      for (let c = cb0 * ${OUT_BLOCK}; c < cb1 * ${OUT_BLOCK}; c += 4) ${p}_outputTransform(src + <usize>c * ${F32_BYTES}, v128.load(${p}_B + <usize>c * ${F32_BYTES}), out + <usize>c * ${F32_BYTES}, rows, cols);`,
    `    }`,
    `    if (g == 0) ${p}_zeroFrame(${p}_TILE_OUT * tr0, min(${p}_TILE_OUT * tr1, ${p}_OUT_H)); // whole pixels: once per block`,
    `  }`,
    `}`,
  ];
}

/** `const fours = …, fives = …;` for this block's size (a full block's, or the shorter last block's). */
function rowTileCounts(rowTiles: readonly BlockRowTiles[]): string[] {
  const pick = (key: 'fours' | 'fives'): string => {
    const [full, last] = rowTiles;
    return !last || last[key] === full[key] ? String(full[key]) : `tiles == ${full.tiles} ? ${full[key]} : ${last[key]}`;
  };
  const counts = (['fours', 'fives'] as const).filter((key) => rowTiles.some((r) => r[key])).map((key) => `${key} = ${pick(key)}`);
  return counts.length ? [`    const ${counts.join(', ')};`] : [];
}

/** A loop of `count` register tiles of `rows` tiles, advancing a (V) and m (M) past them. */
function gemmRun(p: string, rows: number, count: string, chunked: boolean): string[] {
  return [
    `          for (let i = 0; i < ${count}; i++) {`,
    `            ${p}_gemm${rows}x${OUT_BLOCK}(a, u, m${chunked ? ', first' : ''});`,
    `            a += ${rows} * ${p}_V_ROW;`,
    `            m += ${rows} * ${p}_M_ROW;`,
    `          }`,
  ];
}
