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
import { OUT_BLOCK } from '../weights/layout.js';

/** `wasmsimd`: the fast f32x4 kernels. `scalar-ref`: plain loops over the same memory, used as the reference the SIMD kernels are tested against. */
export type KernelVariant = 'wasmsimd' | 'scalar-ref';

/**
 * Pixels per register tile along a row for the unpooled 3×3 kernel. 4 pixels × 8 channels = 8 f32x4
 * accumulators + 2 weight vectors + 1 broadcast input = 11 of the 16 xmm registers V8 uses; wider
 * tiles spill (ANCHORS.md: 4×8 ≈ 51 GFLOP/s, 8×8 drops to 33–44).
 */
export const CONV_TILE_PIXELS = 4;
/** The inner reduction loop is unrolled this many times by the generator (binaryen does not unroll). */
export const CONV_UNROLL = 2;
/** Input features per GEMV iteration: 4 × 2 accumulators = 8 independent add chains. */
export const GEMV_UNROLL = 4;

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
  /** Register tile: output pixels (rows × cols, before pooling) × channels. */
  readonly tile: { readonly rows: number; readonly cols: number; readonly channels: number };
  /** Output channels rounded up to whole 8-channel blocks (the stored channel count). */
  readonly outChannelsPadded: number;
  /** Work items: output rows (pooled rows when the pool is fused). */
  readonly workItems: number;
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

export interface Schedule {
  readonly fused: FusedGraph;
  readonly variant: KernelVariant;
  readonly steps: readonly ScheduledStep[];
}

const pad8 = (n: number): number => Math.ceil(n / OUT_BLOCK) * OUT_BLOCK;

export function schedule(fused: FusedGraph, variant: KernelVariant = 'wasmsimd'): Schedule {
  const input = fused.graph.input;
  const steps: ScheduledStep[] = [{ kind: 'pack-input', kernel: 'f32-pack-nchw-to-nhwc-pad1-scalar', input, workItems: input.h }];
  for (const step of fused.steps) {
    if (step.kind === 'conv') steps.push(scheduleConv(step, variant));
    else if (step.kind === 'pool-flatten') steps.push(schedulePoolFlatten(step));
    else steps.push(scheduleLinear(step, variant));
  }
  return { fused, variant, steps };
}

function scheduleConv(step: FusedConv, variant: KernelVariant): ConvSchedule {
  const { input, output } = step.conv;
  const tile = step.pool ? { rows: 2, cols: 2, channels: OUT_BLOCK } : { rows: 1, cols: CONV_TILE_PIXELS, channels: OUT_BLOCK };
  const op = step.pool ? 'f32-conv3x3p1-bias-relu-maxpool2x2' : 'f32-conv3x3p1-bias-relu';
  const kernel = variant === 'wasmsimd' ? `${op}-${step.pool ? '2x2x8' : `${tile.cols}x8`}-wasmsimd` : `${op}-scalar-ref`;
  // With the pool fused, conv rows/cols that the floor-mode pool drops are never computed.
  const convRows = step.pool ? step.output.h * 2 : output.h;
  const convCols = step.pool ? step.output.w * 2 : output.w;
  const macs = convRows * convCols * output.c * input.c * 9;
  return { kind: 'conv', kernel, step, tile, outChannelsPadded: pad8(output.c), workItems: step.output.h, macs };
}

function schedulePoolFlatten(step: FusedPoolFlatten): PoolFlattenSchedule {
  const kernel = step.avgPool ? 'f32-adaptiveavgpool-flatten-nchw-scalar' : 'f32-flatten-nchw-scalar';
  return { kind: 'pool-flatten', kernel, step, workItems: step.flattened.c };
}

function scheduleLinear(step: FusedLinear, variant: KernelVariant): LinearSchedule {
  const act = step.relu ? '-relu' : '';
  const kernel = variant === 'wasmsimd' ? `f32-gemv-1x8-bias${act}-wasmsimd-u${GEMV_UNROLL}` : `f32-gemv-bias${act}-scalar-ref`;
  const { inFeatures, outFeatures } = step.linear;
  return { kind: 'linear', kernel, step, outFeaturesPadded: pad8(outFeatures), workItems: pad8(outFeatures) / OUT_BLOCK, macs: inFeatures * outFeatures };
}
