/**
 * The scheduler's measured constants: register tiles, batch grouping, the Winograd threshold and
 * block size. docs/performance.md has the measurements behind them and how to repeat them.
 */

/**
 * Pixels per register tile along a row for the unpooled direct 3×3 kernel: 4 pixels × 8 channels =
 * 8 f32x4 accumulators + 2 weight vectors + 1 broadcast input = 11 of the 16 xmm registers V8 uses;
 * wider tiles spill (docs/performance.md, "Register tiles").
 */
export const CONV_TILE_PIXELS = 4;
/**
 * Output blocks a one-image fully-connected tile covers: 4 blocks × 2 accumulators = 8 independent add
 * chains (each output still summed in input order, like the 4-image tile).
 */
export const GEMV_BLOCKS = 4;
/**
 * Images whose classifier runs together: the convolutional steps run image by image, the
 * fully-connected steps once per group of up to MAX_BATCH images, so their weights (VGG-11's fc1 is
 * 411 MB) are streamed once per group of FC_BATCH_TILE images instead of once per image.
 */
export const MAX_BATCH = 8;
/** Images per fully-connected register tile: 4 images × 8 features = 8 f32x4 accumulators. */
export const FC_BATCH_TILE = 4;
/**
 * Winograd F(4×4,3×3) is used for 3×3 layers with at least this many input channels whose input is
 * another convolution's output (channel count padded to 8). Below it the transforms cost more than the
 * 4× fewer multiplies save (VGG's first layer has 3 input channels: 1 % of the network's work).
 */
export const WINOGRAD_MIN_CHANNELS = 16;
/** Transformed-input bytes (α² × tiles × channels) one Winograd block may hold at most (its per-worker scratch). */
export const WINOGRAD_BLOCK_BYTES = 4 * 1024 * 1024;
/**
 * How many bytes of transformed filters U a Winograd layer may stream in all: each block of tile rows
 * reads the whole U once, so smaller blocks keep V and M in cache but read U more often. The
 * scheduler takes the smallest blocks (down to one tile row) whose re-reads stay within this.
 * Measured on VGG-11 (docs/performance.md, "Winograd block size"): conv2_1 (U 1.2 MB) is 12–16 %
 * faster in blocks of 1–2 tile rows than in 4 MiB blocks, conv3_1 (U 4.7 MB) 13 % faster in 4 blocks,
 * and every layer with U ≥ 9 MB is slower with more blocks than the fewest (U read again at ~20 GB/s).
 */
export const WINOGRAD_FILTER_REREAD_BYTES = 24 * 1024 * 1024;
/**
 * The Winograd tile choice's cost model (schedule/winograd-plan.ts, estimatedCost): what each value of
 * V and M (one frequency of one tile, one channel) costs beyond the GEMM, in multiply-add equivalents —
 * its share of the input or output transform, and its trip through the scratch buffers.
 * F(4×4): conv2_1 (64→128) spends 30 % of its time outside the GEMM, the 512-channel layers 7 %; both
 * give 18–19. The wider tiles were fitted to per-layer A/B runs of VGG-11 against F(4×4)
 * (docs/performance.md, "Winograd tile per layer"). Their transforms keep 49 or 64 values live in 16
 * registers and spill, which costs more per value where there are fewer channels to share it:
 * F(5×5) fits 20 on conv5_1 (512→512, 0.77 of F(4×4)) but 29 on conv2_1 (64→128, 1.10 of F(6×6)),
 * and 29 is kept, which still gives conv5_x F(5×5); F(6×6) ran at 0.86 on conv2_1 and 0.92–0.95 on
 * conv3_2 and conv4_x but 1.04 on conv3_1, for which 30 is the smallest value that keeps F(4×4).
 */
export const WINOGRAD_TRANSFORM_COST = { f4x4: 18.5, f5x5: 29, f6x6: 30 } as const;
/**
 * What splitting a fused 2×2 max-pool off a conv costs (so that it can take an odd Winograd tile), per
 * value of the unpooled map, in the same units: the conv stores 4× the values, and a pool pass reads
 * them back. Fitted like the above: conv5_2 (14×14×512) split to F(5×5) ran at 0.84 of F(4×4) fused,
 * conv2_1 (112×112×128) split to F(5×5) at 1.13 of F(6×6) fused; 16 keeps the second fused.
 */
export const POOL_PASS_COST = 16;
/**
 * Transformed filters U up to this size are read from cache, block after block; larger ones stream
 * from memory once per block, and each GEMM register tile's first pass over a new U panel (Cin × 8
 * floats, 16 KB at Cin = 512) waits on memory: on VGG-11 at 1 thread, U kept in cache instead would
 * make the network 16 % faster (docs/performance.md, "Streaming U"). Layers above it get a stream
 * mode (schedule/winograd-plan.ts, chooseStream). conv3_1's 4.7 MB measured no gain from either mode,
 * conv3_2's 16.8 MB did.
 */
export const WINOGRAD_CACHED_FILTER_BYTES = 8 * 1024 * 1024;
/**
 * Input channels per GEMM chunk in the `chunked` stream mode: every register tile of the block runs
 * over one chunk of the panel before the next chunk is read, so the panel streams in at an even rate
 * that the hardware prefetcher keeps up with, at the cost of reloading the accumulators per chunk.
 * On conv5_x of VGG-11 (9 tiles: 2 register tiles per panel) 32 measured 0.80 of one chunk, 16, 24
 * and 48 0.88–0.90 (docs/performance.md).
 */
export const WINOGRAD_REDUCTION_CHUNK = 32;
/**
 * The most register tiles per block for which the scheduler picks `chunked` over `prefetch`: with
 * more of them the reloads cost more than the even stream saves (conv4_x, then 5 register tiles per
 * panel, now 6 with four-row tiles first: 1.03–1.09 chunked, 0.90–0.94 prefetched).
 */
export const WINOGRAD_CHUNKED_MAX_REGISTER_TILES = 2;
/**
 * Rows of the Winograd GEMM's main register tile (tiles × 8 output channels): 8 accumulators, 12 of
 * the 16 xmm registers with the weights, the broadcast and a product. 6 rows measured slower (spills).
 */
export const WINOGRAD_GEMM_ROWS = 4;
/**
 * The wider tile that makes up the counts 4-row tiles cannot (25 = 5 × 4 + 1 × 5). It issues fewer
 * loads per multiply-add, and V8 13+ (Node 24 and 26, Chromium 156), Bun and Firefox run it at least
 * at the 4-row rate (Firefox 1.17× faster); but V8 11.3 and 12.4 (Node 20 and 22) spill it and run it
 * at 0.45 of the 4-row rate (2026-12-07, `bench/gemm-unroll.mjs --rows 4,5`). Blocks used to take as
 * many 5-row tiles as they could (3–8 % on Node 24's 28×28 layers, 2026-12-02); on this machine
 * VGG-11 on Node 24 measured the same either way and Node 20 0.72 with as few as can be, so that is
 * the rule now (docs/performance.md, "GEMM rows").
 */
export const WINOGRAD_GEMM_ROWS_WIDE = 5;
/**
 * Most workers (threads) a model can be run with. Each has its own scratch, selected by the worker
 * argument every layer function takes; Winograd layers also split their output channels into this
 * many groups so that even a one-block layer (a 14×14 or 28×28 map) can be shared between threads.
 */
export const MAX_WORKERS = 4;
