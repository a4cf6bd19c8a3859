/**
 * How a Winograd F(4×4,3×3) layer is cut into work: 4×4 output tiles, in blocks of whole tile rows,
 * each block's output channels split into groups so that small maps can still be shared between
 * threads. Block size is a per-layer trade (tileRowsPerBlock below): small blocks keep the transformed
 * input V and the GEMM result M in cache, but every block reads all of the transformed filters U.
 */
import type { FusedConv } from '../fuse/fuse.js';
import { OUT_BLOCK, WINOGRAD_F4X4_POINTS } from '../weights/layout.js';
import { F4X4_3X3 } from '../winograd/winograd.js';
import { MAX_WORKERS, WINOGRAD_BLOCK_BYTES, WINOGRAD_FILTER_REREAD_BYTES, WINOGRAD_GEMM_ROWS } from './tuning.js';

export { WINOGRAD_GEMM_ROWS } from './tuning.js';

export interface WinogradPlan {
  readonly tileRows: number;
  readonly tileCols: number;
  readonly tileRowsPerBlock: number;
  /** Tiles per block rounded up to whole GEMM row tiles (the transformed buffers' row count). */
  readonly tilesPerBlockPadded: number;
  /** Multiply-adds of the α² GEMMs (the transforms' adds not counted). */
  readonly gemmMacs: number;
  readonly blocks: number;
  /** Output-channel groups: work item = (block, group), block-major. */
  readonly coGroups: number;
  /** 8-channel output blocks per group (the last group may have fewer). */
  readonly coBlocksPerGroup: number;
}

export function planWinograd(step: FusedConv, inStride: number, outStride: number): WinogradPlan {
  const m = F4X4_3X3.m;
  // With the pool fused, conv rows/cols that the floor-mode pool drops are not computed.
  const convRows = step.pool ? step.output.h * 2 : step.conv.output.h;
  const convCols = step.pool ? step.output.w * 2 : step.conv.output.w;
  const tileRows = Math.ceil(convRows / m);
  const tileCols = Math.ceil(convCols / m);
  const rowBytes = WINOGRAD_F4X4_POINTS * tileCols * inStride * 4;
  const filterBytes = WINOGRAD_F4X4_POINTS * inStride * outStride * 4;
  const tileRowsPerBlock = blockRows(tileRows, Math.max(1, Math.min(tileRows, Math.floor(WINOGRAD_BLOCK_BYTES / rowBytes))), filterBytes);
  const blocks = Math.ceil(tileRows / tileRowsPerBlock);
  const tilesPerBlockPadded = Math.ceil((tileRowsPerBlock * tileCols) / WINOGRAD_GEMM_ROWS) * WINOGRAD_GEMM_ROWS;
  const coBlocks = outStride / OUT_BLOCK;
  const coBlocksPerGroup = Math.ceil(coBlocks / Math.min(MAX_WORKERS, coBlocks));
  const coGroups = Math.ceil(coBlocks / coBlocksPerGroup);
  const gemmMacs = tileRows * tileCols * WINOGRAD_F4X4_POINTS * inStride * outStride;
  return { tileRows, tileCols, tileRowsPerBlock, tilesPerBlockPadded, gemmMacs, blocks, coGroups, coBlocksPerGroup };
}

/**
 * Tile rows per block: the fewest (smallest blocks) whose blocks together read U at most
 * WINOGRAD_FILTER_REREAD_BYTES, never more than `most` (the scratch limit). A layer whose U alone
 * is past the limit keeps the largest blocks.
 */
function blockRows(tileRows: number, most: number, filterBytes: number): number {
  for (let rows = 1; rows < most; rows++) if (Math.ceil(tileRows / rows) * filterBytes <= WINOGRAD_FILTER_REREAD_BYTES) return rows;
  return most;
}
