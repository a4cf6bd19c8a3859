/**
 * Stage 4: FusedGraph → Schedule. Chooses the kernel and the tiling of every step and how its work
 * is split into independent items (output rows, output-feature blocks) that can be run in ranges.
 *
 * Kernel names state their contract, XNNPACK style: dtype-op-variant-tile-activation-isa, e.g.
 * `f32-conv3x3p1-bias-relu-maxpool2x2-2x2x8-wasmsimd` = float32 3×3 pad-1 convolution with bias,
 * ReLU and a fused 2×2 max-pool; each register tile covers 2×2 output pixels × 8 channels.
 */
import type { MapShape } from '../graph/graph.js';
import type { FusedConv, FusedGraph, FusedLinear, FusedPoolFlatten } from '../fuse/fuse.js';
import { OUT_BLOCK, type WeightsDtype } from '../weights/layout.js';

/** `wasmsimd`: the fast f32x4 kernels. `scalar-ref`: plain loops over the same memory, used as the reference the SIMD kernels are tested against. */
export type KernelVariant = 'wasmsimd' | 'scalar-ref';

/**
 * Pixels per register tile along a row for the unpooled 3×3 kernel. 4 pixels × 8 channels = 8 f32x4
 * accumulators + 2 weight vectors + 1 broadcast input = 11 of the 16 xmm registers V8 uses; wider
 * tiles spill (ANCHORS.md: 4×8 ≈ 51 GFLOP/s, 8×8 drops to 33–44).
 */
export const CONV_TILE_PIXELS = 4;
/**
 * How many times the generator unrolls the reduction loops of the register-tiled kernels (direct conv,
 * FC batch tile). 1 = not unrolled: V8's TurboFan hoists every load of an unrolled body to its top, so
 * ×2 keeps 8 accumulators + 4 weight vectors + 8 broadcasts live — more than the 16 xmm registers — and
 * spills accumulators to the stack every iteration (seen with --print-wasm-code). Measured in isolation,
 * a 4×8 tile at K = 512: ×1 54–57 GFLOP/s, ×2 34 (bench/gemm-unroll.mjs).
 */
export const CONV_UNROLL = 1;
/** Input features per GEMV iteration: 4 × 2 accumulators = 8 independent add chains. */
export const GEMV_UNROLL = 4;
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
/** Transformed-input bytes (36 × tiles × channels) one Winograd block may hold: sized to stay in L2/L3. */
export const WINOGRAD_BLOCK_BYTES = 4 * 1024 * 1024;
/** Rows of the Winograd GEMM register tile (tiles × 8 output channels). 6 rows measured slower here (spills). */
export const WINOGRAD_GEMM_ROWS = 4;
/** Unrolling of the Winograd GEMM's reduction over input channels: 1, for the reason given at CONV_UNROLL. */
export const WINOGRAD_GEMM_UNROLL = 1;
/**
 * Most workers (threads) a model can be run with. Each has its own scratch, selected by the worker
 * argument every layer function takes; Winograd layers also split their output channels into this
 * many groups so that even a one-block layer (a 14×14 or 28×28 map) can be shared between threads.
 */
export const MAX_WORKERS = 4;

export type ConvAlgorithm = 'direct' | 'winograd-f4x4';
/** `auto` lets the scheduler decide per layer (the default). */
export type ConvAlgorithmChoice = 'auto' | 'direct' | 'winograd';

export interface ScheduleOptions {
  readonly variant?: KernelVariant;
  readonly conv?: ConvAlgorithmChoice;
  /** How weights are stored (default f32); fully-connected kernels dequantise f16/int8 as they stream. */
  readonly weights?: WeightsDtype;
}

/** How a Winograd layer is cut: tiles of 4×4 outputs, processed in blocks of whole tile rows. */
export interface WinogradPlan {
  readonly tileRows: number;
  readonly tileCols: number;
  readonly tileRowsPerBlock: number;
  /** Tiles per block rounded up to whole GEMM row tiles (the transformed buffers' row count). */
  readonly tilesPerBlockPadded: number;
  /** Multiply-adds of the 36 GEMMs (the transforms' adds not counted). */
  readonly gemmMacs: number;
  readonly blocks: number;
  /** Output-channel groups: work item = (block, group), block-major. */
  readonly coGroups: number;
  /** 8-channel output blocks per group (the last group may have fewer). */
  readonly coBlocksPerGroup: number;
}

export interface PackInputSchedule {
  readonly kind: 'pack-input';
  readonly kernel: string;
  readonly input: MapShape;
  /** Independent work items: input rows. */
  readonly workItems: number;
}
export interface ConvSchedule {
  readonly kind: 'conv';
  readonly kernel: string;
  readonly step: FusedConv;
  readonly algorithm: ConvAlgorithm;
  /** Set for Winograd layers. */
  readonly winograd?: WinogradPlan;
  /** Register tile: output pixels (rows × cols, before pooling) × channels. */
  readonly tile: { readonly rows: number; readonly cols: number; readonly channels: number };
  /** Output channels rounded up to whole 8-channel blocks (the stored channel count). */
  readonly outChannelsPadded: number;
  /** Work items: output rows (pooled rows when the pool is fused), or Winograd blocks of tile rows. */
  readonly workItems: number;
  /** Multiply-adds of the direct algorithm: the network's work, whatever algorithm runs it. */
  readonly macs: number;
}
export interface PoolFlattenSchedule {
  readonly kind: 'pool-flatten';
  readonly kernel: string;
  readonly step: FusedPoolFlatten;
  /** Work items: channels. */
  readonly workItems: number;
}
export interface LinearSchedule {
  readonly kind: 'linear';
  readonly kernel: string;
  readonly step: FusedLinear;
  readonly outFeaturesPadded: number;
  /** Work items: blocks of 8 output features. */
  readonly workItems: number;
  readonly macs: number;
}
export type ScheduledStep = PackInputSchedule | ConvSchedule | PoolFlattenSchedule | LinearSchedule;

/** `image`: runs once per image of a batch; `batch`: once for all images of a batch (the classifier). */
export const phaseOf = (s: ScheduledStep): 'image' | 'batch' => (s.kind === 'linear' ? 'batch' : 'image');

export interface Schedule {
  readonly fused: FusedGraph;
  readonly variant: KernelVariant;
  readonly weightsDtype: WeightsDtype;
  readonly steps: readonly ScheduledStep[];
}

const pad8 = (n: number): number => Math.ceil(n / OUT_BLOCK) * OUT_BLOCK;

export function schedule(fused: FusedGraph, opts: ScheduleOptions = {}): Schedule {
  const variant = opts.variant ?? 'wasmsimd';
  const weightsDtype = opts.weights ?? 'f32';
  const input = fused.graph.input;
  const steps: ScheduledStep[] = [{ kind: 'pack-input', kernel: 'f32-pack-nchw-to-nhwc-pad1-scalar', input, workItems: input.h }];
  fused.steps.forEach((step, i) => {
    if (step.kind === 'conv') {
      const inputIsConv = i > 0 && fused.steps[i - 1].kind === 'conv';
      const winograd = variant === 'wasmsimd' && opts.conv !== 'direct' && inputIsConv && (opts.conv === 'winograd' || step.conv.input.c >= WINOGRAD_MIN_CHANNELS);
      steps.push(winograd ? scheduleWinograd(step) : scheduleConv(step, variant));
    }
    else if (step.kind === 'pool-flatten') steps.push(schedulePoolFlatten(step));
    else steps.push(scheduleLinear(step, variant, weightsDtype));
  });
  return { fused, variant, weightsDtype, steps };
}

function directMacs(step: FusedConv): number {
  const { input, output } = step.conv;
  const rows = step.pool ? step.output.h * 2 : output.h;
  const cols = step.pool ? step.output.w * 2 : output.w;
  return rows * cols * output.c * input.c * 9;
}

function scheduleWinograd(step: FusedConv): ConvSchedule {
  const { input, output } = step.conv;
  // With the pool fused, conv rows/cols that the floor-mode pool drops are not computed.
  const convRows = step.pool ? step.output.h * 2 : output.h;
  const convCols = step.pool ? step.output.w * 2 : output.w;
  const tileRows = Math.ceil(convRows / 4);
  const tileCols = Math.ceil(convCols / 4);
  const inStride = pad8(input.c);
  const rowBytes = 36 * tileCols * inStride * 4;
  const tileRowsPerBlock = Math.max(1, Math.min(tileRows, Math.floor(WINOGRAD_BLOCK_BYTES / rowBytes)));
  const blocks = Math.ceil(tileRows / tileRowsPerBlock);
  const tilesPerBlockPadded = Math.ceil((tileRowsPerBlock * tileCols) / WINOGRAD_GEMM_ROWS) * WINOGRAD_GEMM_ROWS;
  const op = step.pool ? 'f32-conv3x3p1-winograd-f4x4-bias-relu-maxpool2x2' : 'f32-conv3x3p1-winograd-f4x4-bias-relu';
  const coBlocks = pad8(output.c) / OUT_BLOCK;
  const coBlocksPerGroup = Math.ceil(coBlocks / Math.min(MAX_WORKERS, coBlocks));
  const coGroups = Math.ceil(coBlocks / coBlocksPerGroup);
  return {
    kind: 'conv',
    kernel: `${op}-${WINOGRAD_GEMM_ROWS}x8-wasmsimd`,
    step,
    algorithm: 'winograd-f4x4',
    winograd: { tileRows, tileCols, tileRowsPerBlock, tilesPerBlockPadded, gemmMacs: tileRows * tileCols * 36 * inStride * pad8(output.c), blocks, coGroups, coBlocksPerGroup },
    tile: { rows: 4, cols: 4, channels: OUT_BLOCK },
    outChannelsPadded: pad8(output.c),
    workItems: blocks * coGroups,
    macs: directMacs(step),
  };
}

function scheduleConv(step: FusedConv, variant: KernelVariant): ConvSchedule {
  const tile = step.pool ? { rows: 2, cols: 2, channels: OUT_BLOCK } : { rows: 1, cols: CONV_TILE_PIXELS, channels: OUT_BLOCK };
  const op = step.pool ? 'f32-conv3x3p1-bias-relu-maxpool2x2' : 'f32-conv3x3p1-bias-relu';
  const kernel = variant === 'wasmsimd' ? `${op}-${step.pool ? '2x2x8' : `${tile.cols}x8`}-wasmsimd` : `${op}-scalar-ref`;
  return { kind: 'conv', kernel, step, algorithm: 'direct', tile, outChannelsPadded: pad8(step.conv.output.c), workItems: step.output.h, macs: directMacs(step) };
}

function schedulePoolFlatten(step: FusedPoolFlatten): PoolFlattenSchedule {
  const kernel = step.avgPool ? 'f32-adaptiveavgpool-flatten-nchw-scalar' : 'f32-flatten-nchw-scalar';
  return { kind: 'pool-flatten', kernel, step, workItems: step.flattened.c };
}

/** Kernel-name prefix per weight dtype (XNNPACK's `qc8w`: int8 weights, per-channel scales). */
const LINEAR_PREFIX: Record<WeightsDtype, string> = { f32: 'f32-gemm', f16: 'f32-f16w-gemm', int8: 'f32-qc8w-gemm' };

function scheduleLinear(step: FusedLinear, variant: KernelVariant, weightDtype: WeightsDtype): LinearSchedule {
  const act = step.relu ? '-relu' : '';
  const op = LINEAR_PREFIX[weightDtype];
  // 4 images × 8 features per tile; the 1–3 images left over go through the 1×8 GEMV, unrolled ×4.
  const kernel = variant === 'wasmsimd' ? `${op}-${FC_BATCH_TILE}x8-bias${act}-wasmsimd-tail-1x8u${GEMV_UNROLL}` : `${op}-bias${act}-scalar-ref`;
  const { inFeatures, outFeatures } = step.linear;
  return { kind: 'linear', kernel, step, outFeaturesPadded: pad8(outFeatures), workItems: pad8(outFeatures) / OUT_BLOCK, macs: inFeatures * outFeatures };
}
