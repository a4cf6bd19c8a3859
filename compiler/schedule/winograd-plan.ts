/**
 * How a Winograd F(m×m,3×3) layer is cut into work: its tile size (planWinograd below), m×m output
 * tiles in blocks of whole tile rows, each block's output channels split into groups so that small
 * maps can still be shared between threads. Block size is a per-layer trade (tileRowsPerBlock below):
 * small blocks keep the transformed input V and the GEMM result M in cache, but every block reads all
 * of the transformed filters U.
 */
import type { FusedConv } from '../fuse/fuse.js';
import { CACHE_LINE_BYTES, F32_BYTES, OUT_BLOCK } from '../weights/layout.js';
import { WINOGRAD_TRANSFORMS, type WinogradTileName, type WinogradTransform } from '../winograd/winograd.js';
import {
  MAX_WORKERS,
  WINOGRAD_BLOCK_BYTES,
  WINOGRAD_CACHED_FILTER_BYTES,
  WINOGRAD_CHUNKED_MAX_REGISTER_TILES,
  WINOGRAD_FILTER_REREAD_BYTES,
  WINOGRAD_GEMM_ROWS,
  WINOGRAD_GEMM_ROWS_WIDE,
  WINOGRAD_REDUCTION_CHUNK,
  WINOGRAD_TRANSFORM_COST,
} from './tuning.js';

/** `auto`: the cost model below picks each layer's tile; otherwise every Winograd layer that can takes this one. */
export type WinogradTileChoice = 'auto' | WinogradTileName;

/**
 * How a layer's GEMMs bring in the transformed filters U, panel by panel (Cin × 8 floats for one
 * frequency and one 8-channel output block):
 * - `plain`: the first register tile over a panel reads it from wherever it is (U that fits in cache);
 * - `chunked`: every register tile of the block runs over one chunk of WINOGRAD_REDUCTION_CHUNK input
 *   channels before the next chunk, reloading its partial sums from M, so the panel streams in at an
 *   even rate (few register tiles per panel);
 * - `prefetch`: a tight loop of loads reads the panel's cache lines before the register tiles go over
 *   it (wasm has no prefetch instruction; a light loop keeps many more lines in flight than the GEMM).
 * All three sum every output's products in the same order: the same bits.
 */
export type WinogradStream = 'plain' | 'chunked' | 'prefetch';
/** `auto`: chooseStream below decides per layer; otherwise every Winograd layer that can takes this one. */
export type WinogradStreamChoice = 'auto' | WinogradStream;
export const WINOGRAD_STREAMS: readonly WinogradStream[] = ['plain', 'chunked', 'prefetch'];

export { WINOGRAD_GEMM_ROWS, WINOGRAD_GEMM_ROWS_WIDE } from './tuning.js';

/**
 * How one block's tiles are cut into GEMM register tiles, in order: `fives` tiles of
 * WINOGRAD_GEMM_ROWS_WIDE rows, `fours` of WINOGRAD_GEMM_ROWS, then one tile of `tail` rows (0: none).
 * Every row is a real tile: none is computed only to be thrown away.
 */
export interface BlockRowTiles {
  readonly tiles: number;
  readonly fours: number;
  readonly fives: number;
  readonly tail: number;
}

export interface WinogradPlan {
  readonly transform: WinogradTransform;
  readonly tileRows: number;
  readonly tileCols: number;
  readonly tileRowsPerBlock: number;
  /** Tiles of a full block (the transformed buffers' row count). */
  readonly tilesPerBlock: number;
  /**
   * Bytes between two frequencies of V ([α²][tiles][Cin]) and of M ([α²][tiles][Cout]) in the scratch:
   * a full block's tiles × channels, padded to an odd number of cache lines (slabBytes).
   */
  readonly vSlabBytes: number;
  readonly mSlabBytes: number;
  /** The register tiles of a full block and, when it has fewer tiles, of the last one. */
  readonly rowTiles: readonly BlockRowTiles[];
  /** Multiply-adds of the α² GEMMs (the transforms' adds not counted). */
  readonly gemmMacs: number;
  readonly blocks: number;
  /** How the GEMMs stream U (chooseStream). */
  readonly stream: WinogradStream;
  /** Input channels per GEMM chunk: WINOGRAD_REDUCTION_CHUNK when `chunked`, else all of them. */
  readonly reductionChunk: number;
  /** Output-channel groups: work item = (block, group), block-major. */
  readonly coGroups: number;
  /** 8-channel output blocks per group (the last group may have fewer). */
  readonly coBlocksPerGroup: number;
}

export function planWinograd(step: FusedConv, inStride: number, outStride: number, choice: WinogradTileChoice = 'auto', stream: WinogradStreamChoice = 'auto'): WinogradPlan {
  const candidates = usableTransforms(step).filter((t) => choice === 'auto' || t.name === choice);
  // A forced tile this layer cannot use (F(5×5) with a fused pool) leaves it at F(4×4).
  const plans = (candidates.length ? candidates : [WINOGRAD_TRANSFORMS.f4x4]).map((t) => planWith(t, step, inStride, outStride, stream));
  return plans.reduce((best, p) => (estimatedCost(p, inStride, outStride) < estimatedCost(best, inStride, outStride) ? p : best));
}

/**
 * The stream mode of a plan (WinogradStream). U that fits in cache needs none. Larger U is chunked
 * where a block has few register tiles per panel (the 14×14 maps: 2), so that the panel's reads are
 * spread over the whole block, and prefetched otherwise, where reloading partial sums per chunk would
 * cost more (measured on VGG-11, tuning.ts). A forced `chunked` that the layer's channels cannot
 * take (not a multiple of the chunk, or a single chunk) is `prefetch`.
 */
function chooseStream(choice: WinogradStreamChoice, filterBytes: number, registerTiles: number, inStride: number): WinogradStream {
  const canChunk = inStride > WINOGRAD_REDUCTION_CHUNK && inStride % WINOGRAD_REDUCTION_CHUNK === 0;
  const mode = choice !== 'auto' ? choice : filterBytes <= WINOGRAD_CACHED_FILTER_BYTES ? 'plain' : registerTiles <= WINOGRAD_CHUNKED_MAX_REGISTER_TILES ? 'chunked' : 'prefetch';
  return mode === 'chunked' && !canChunk ? 'prefetch' : mode;
}

/** Tiles that fit the layer: a fused 2×2 pool needs an even m, so that no pooling window straddles two tiles. */
function usableTransforms(step: FusedConv): WinogradTransform[] {
  return Object.values(WINOGRAD_TRANSFORMS).filter((t) => !step.pool || t.m % 2 === 0);
}

/**
 * The scheduler's cost of a plan, in multiply-add equivalents: the GEMMs' multiply-adds (every tile,
 * those that cover pixels past the map's edge included) plus, per transformed value (α² per tile, each
 * input and output channel), the transforms and their scratch traffic, WINOGRAD_TRANSFORM_COST
 * multiply-adds each (measured per tile size, tuning.ts).
 */
export function estimatedCost(p: WinogradPlan, inStride: number, outStride: number): number {
  const values = p.tileRows * p.tileCols * p.transform.alpha ** 2;
  return values * (inStride * outStride + WINOGRAD_TRANSFORM_COST[p.transform.name] * (inStride + outStride));
}

function planWith(transform: WinogradTransform, step: FusedConv, inStride: number, outStride: number, streamChoice: WinogradStreamChoice): WinogradPlan {
  const { m, alpha } = transform;
  const points = alpha * alpha;
  // With the pool fused, conv rows/cols that the floor-mode pool drops are not computed.
  const convRows = step.pool ? step.output.h * 2 : step.conv.output.h;
  const convCols = step.pool ? step.output.w * 2 : step.conv.output.w;
  const tileRows = Math.ceil(convRows / m);
  const tileCols = Math.ceil(convCols / m);
  const rowBytes = points * tileCols * inStride * 4;
  const filterBytes = points * inStride * outStride * 4;
  const tileRowsPerBlock = blockRows(tileRows, Math.max(1, Math.min(tileRows, Math.floor(WINOGRAD_BLOCK_BYTES / rowBytes))), filterBytes);
  const blocks = Math.ceil(tileRows / tileRowsPerBlock);
  const tilesPerBlock = tileRowsPerBlock * tileCols;
  const lastTiles = (tileRows - (blocks - 1) * tileRowsPerBlock) * tileCols;
  const rowTiles = [rowTilesOf(tilesPerBlock), ...(lastTiles !== tilesPerBlock ? [rowTilesOf(lastTiles)] : [])];
  const coBlocks = outStride / OUT_BLOCK;
  const coBlocksPerGroup = Math.ceil(coBlocks / Math.min(MAX_WORKERS, coBlocks));
  const coGroups = Math.ceil(coBlocks / coBlocksPerGroup);
  const gemmMacs = tileRows * tileCols * points * inStride * outStride;
  const stream = chooseStream(streamChoice, filterBytes, registerTilesOf(rowTiles[0]), inStride);
  const reductionChunk = stream === 'chunked' ? WINOGRAD_REDUCTION_CHUNK : inStride;
  const vSlabBytes = slabBytes(tilesPerBlock * inStride * F32_BYTES);
  const mSlabBytes = slabBytes(tilesPerBlock * outStride * F32_BYTES);
  return { transform, tileRows, tileCols, tileRowsPerBlock, tilesPerBlock, vSlabBytes, mSlabBytes, rowTiles, gemmMacs, blocks, stream, reductionChunk, coGroups, coBlocksPerGroup };
}

/**
 * A frequency slab of V or M, padded to an odd number of cache lines. The input transform stores one
 * value to each of the α² slabs, and the output transform loads one from each, per call: with slabs
 * a multiple of 2 KiB long (50 or 25 tiles × 256 or 512 channels: 51,200 bytes) those 36–64 addresses
 * fell into one or two of the L1 cache's 64 sets, more than its ways hold, and every access missed L1.
 * An odd number of lines puts 64 consecutive slabs in 64 different sets. Measured: the F(6×6) input
 * transform alone, 294 → 131 ns per call (docs/performance.md, "Measured on 2026-12-08").
 */
export function slabBytes(bytes: number): number {
  const lines = Math.ceil(bytes / CACHE_LINE_BYTES);
  return (lines % 2 === 1 ? lines : lines + 1) * CACHE_LINE_BYTES;
}

/**
 * Tile rows per block: the fewest (smallest blocks) whose blocks together read U at most
 * WINOGRAD_FILTER_REREAD_BYTES, never more than `most` (the scratch limit), then evened out. A layer
 * whose U alone is past the limit keeps the largest blocks.
 */
function blockRows(tileRows: number, most: number, filterBytes: number): number {
  let rows = most;
  for (let r = 1; r < most; r++) {
    if (Math.ceil(tileRows / r) * filterBytes <= WINOGRAD_FILTER_REREAD_BYTES) {
      rows = r;
      break;
    }
  }
  // The same number of blocks, as even as they can be: threads split a layer's work items (blocks ×
  // channel groups) in contiguous ranges, so 10 tile rows in blocks of 6 + 4 left one of two threads
  // with 1.5× the other's work (F(6×6) conv3_2: 1.16× slower on 2 threads); 5 + 5 do not.
  return Math.ceil(tileRows / Math.ceil(tileRows / rows));
}

/**
 * `tiles` = 4·fours + 5·fives with as few fives as can be: every engine runs the 4-row tile at the
 * f32x4 rate, while V8 before 13 (Node 20 and 22) spills the 5-row tile's ten accumulators and runs it
 * at half that (tuning.ts, WINOGRAD_GEMM_ROWS_WIDE). Every count from 12 up has such a split, so no
 * row is padded; a block too small for one ends with one narrower tile (2 or 3 rows run at 0.8–0.9 of
 * the 4-row rate, docs/performance.md "GEMM rows").
 */
export function rowTilesOf(tiles: number): BlockRowTiles {
  for (let fives = 0; fives * WINOGRAD_GEMM_ROWS_WIDE <= tiles; fives++) {
    const left = tiles - fives * WINOGRAD_GEMM_ROWS_WIDE;
    if (left % WINOGRAD_GEMM_ROWS === 0) return { tiles, fours: left / WINOGRAD_GEMM_ROWS, fives, tail: 0 };
  }
  const rest = tiles % WINOGRAD_GEMM_ROWS;
  return { tiles, fours: (tiles - rest) / WINOGRAD_GEMM_ROWS, fives: 0, tail: rest };
}

/** Rows of the register tile that covers most of a block's tiles: what the kernel's name states. */
export function mainGemmRows(r: BlockRowTiles): number {
  return r.fives * WINOGRAD_GEMM_ROWS_WIDE > r.fours * WINOGRAD_GEMM_ROWS ? WINOGRAD_GEMM_ROWS_WIDE : r.fours ? WINOGRAD_GEMM_ROWS : r.tail;
}

/** Register tiles a block's GEMM runs per U panel. */
const registerTilesOf = (r: BlockRowTiles): number => r.fives + r.fours + (r.tail ? 1 : 0);

/** ", U in chunks of 32 input channels" (or prefetched): for the layer header and `vggc summary`; nothing for `plain`. */
export function describeStream(p: Pick<WinogradPlan, 'stream' | 'reductionChunk'>): string {
  return p.stream === 'chunked' ? `, U streamed in chunks of ${p.reductionChunk} input channels` : p.stream === 'prefetch' ? ', U panels prefetched' : '';
}

/** "49 tiles = 1 × 5 + 11 × 4 rows": for the generated code's layer header and `vggc summary`. */
export function describeRowTiles(r: BlockRowTiles): string {
  const parts = [...(r.fives ? [`${r.fives} × ${WINOGRAD_GEMM_ROWS_WIDE}`] : []), ...(r.fours ? [`${r.fours} × ${WINOGRAD_GEMM_ROWS}`] : []), ...(r.tail ? [`1 × ${r.tail}`] : [])];
  return `${r.tiles} tiles = ${parts.join(' + ')} rows`;
}
