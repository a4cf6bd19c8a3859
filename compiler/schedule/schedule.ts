/**
 * Stage 4: FusedGraph → Schedule. Chooses every step's kernel (a KernelSpec, program.ts), its tiling,
 * the stored channel count of its output, and how its work is split into independent items (output
 * rows, Winograd blocks, output-feature blocks) that can be run in ranges by any thread. It also owns
 * the memory budget: budget.ts checks that the chosen kernels' weights and activations fit in wasm
 * memory, and when Winograd's larger filters do not, the convolutions are scheduled direct.
 */
import type { MapShape } from '../graph/graph.js';
import type { FusedConv, FusedGraph, FusedLinear, FusedMapActivation, FusedOutputActivation, FusedPoolFlatten, FusedVectorRelu } from '../fuse/fuse.js';
import { OUT_BLOCK, roundUp, type WeightsDtype } from '../weights/layout.js';
import { weightsTag, type Epilogue, type KernelSpec } from '../program.js';
import { fitsInMemory } from './budget.js';
import { estimatedCost, mainGemmRows, planWinograd, type WinogradPlan, type WinogradStreamChoice, type WinogradTileChoice } from './winograd-plan.js';
import { CONV_TILE_PIXELS, FC_BATCH_TILE, GEMV_BLOCKS, MAX_BATCH, POOL_PASS_COST, WINOGRAD_MIN_CHANNELS } from './tuning.js';

export { MAX_BATCH, MAX_WORKERS } from './tuning.js';
export type { WinogradPlan } from './winograd-plan.js';

/** `wasmsimd`: the fast f32x4 kernels. `scalar-ref`: plain loops over the same memory, used as the reference the SIMD kernels are tested against. */
export type KernelVariant = 'wasmsimd' | 'scalar-ref';

/** `auto` lets the scheduler decide per layer (the default). */
export type ConvAlgorithmChoice = 'auto' | 'direct' | 'winograd';

export interface ScheduleOptions {
  readonly variant?: KernelVariant;
  readonly conv?: ConvAlgorithmChoice;
  /** Winograd tile size: `auto` (the default) lets the cost model choose per layer. */
  readonly winogradTile?: WinogradTileChoice;
  /** How Winograd GEMMs stream their transformed filters: `auto` (the default) decides per layer. */
  readonly winogradStream?: WinogradStreamChoice;
  /** How weights are stored (default f32); fully-connected kernels dequantise f16/int8 as they stream. */
  readonly weights?: WeightsDtype;
}

interface ScheduledCommon {
  readonly spec: KernelSpec;
  /** `image`: runs once per image of a batch; `batch`: once for all images of a group (the classifier). */
  readonly phase: 'image' | 'batch';
  /** Independent work items: any range of them can run on any thread. */
  readonly workItems: number;
  /**
   * Consecutive items that share set-up work when one call runs them: a Winograd block's output-channel
   * groups (one input transform per call and block); 1 elsewhere. Threads claim whole grains where they
   * can (runtime/threads/protocol.ts).
   */
  readonly workGrain: number;
  /** Multiply-adds of the direct algorithm per image: the network's work, whatever algorithm runs it (0 for data movement). */
  readonly macs: number;
  /** Floats per stored output pixel (maps) or per stored output vector (vectors): the one definition of the stored channel count. */
  readonly outStride: number;
}
export interface PackInputSchedule extends ScheduledCommon {
  readonly kind: 'pack-input';
  readonly input: MapShape;
}
interface ConvCommon extends ScheduledCommon {
  readonly layer: FusedConv;
  /** The input map's stored channels (its producer's outStride). */
  readonly inStride: number;
}
export interface DirectConvSchedule extends ConvCommon {
  readonly kind: 'conv-direct';
  /** Register tile: output pixels (rows × cols, before pooling) × channels. */
  readonly tile: { readonly rows: number; readonly cols: number; readonly channels: number };
}
export interface WinogradConvSchedule extends ConvCommon {
  readonly kind: 'conv-winograd';
  readonly winograd: WinogradPlan;
}
export interface PoolFlattenSchedule extends ScheduledCommon {
  readonly kind: 'pool-flatten';
  readonly layer: FusedPoolFlatten;
  readonly inStride: number;
}
export interface LinearSchedule extends ScheduledCommon {
  readonly kind: 'linear';
  readonly layer: FusedLinear;
}
export interface OutputActivationSchedule extends ScheduledCommon {
  readonly kind: 'output-activation';
  readonly layer: FusedOutputActivation;
}
/** ReLU and/or 2×2 max-pool over a stored map (a conv chain split by a named output). */
export interface MapActivationSchedule extends ScheduledCommon {
  readonly kind: 'map-activation';
  readonly layer: FusedMapActivation;
  readonly inStride: number;
}
/** ReLU over a hidden Linear's output (split by its named pre-ReLU output). */
export interface VectorReluSchedule extends ScheduledCommon {
  readonly kind: 'vector-relu';
  readonly layer: FusedVectorRelu;
}
export type ScheduledStep = PackInputSchedule | DirectConvSchedule | WinogradConvSchedule | PoolFlattenSchedule | LinearSchedule | OutputActivationSchedule | MapActivationSchedule | VectorReluSchedule;

export interface Schedule {
  readonly fused: FusedGraph;
  readonly variant: KernelVariant;
  readonly weightsDtype: WeightsDtype;
  readonly steps: readonly ScheduledStep[];
}

/** Channels or features as stored: whole 8-wide output blocks. */
export const storedChannels = (n: number): number => roundUp(n, OUT_BLOCK);

export function schedule(fused: FusedGraph, opts: ScheduleOptions = {}): Schedule {
  const chosen = scheduleWith(fused, opts);
  // Winograd keeps α² (36 for F(4×4), 64 for F(6×6)) values per 3×3 filter beside the filter. When
  // that is what overflows wasm memory under `auto`, the smallest tile is tried, then every
  // convolution is scheduled direct, instead of refusing the model.
  if ((opts.conv ?? 'auto') !== 'auto' || fitsInMemory(chosen)) return chosen;
  if ((opts.winogradTile ?? 'auto') === 'auto') {
    const smallest = scheduleWith(fused, { ...opts, winogradTile: 'f4x4' });
    if (fitsInMemory(smallest)) return smallest;
  }
  return scheduleWith(fused, { ...opts, conv: 'direct' });
}

function scheduleWith(fused: FusedGraph, opts: ScheduleOptions): Schedule {
  const variant = opts.variant ?? 'wasmsimd';
  const weightsDtype = opts.weights ?? 'f32';
  const input = fused.graph.input;
  const steps: ScheduledStep[] = [scheduleInput(input)];
  fused.steps.forEach((step, i) => {
    const inStride = steps[steps.length - 1].outStride;
    if (step.kind === 'conv') {
      // Winograd reads a map another layer stored (channels padded to whole blocks), never the packed input.
      const inputIsMap = i > 0 && (fused.steps[i - 1].kind === 'conv' || fused.steps[i - 1].kind === 'map-activation');
      const winograd = variant === 'wasmsimd' && opts.conv !== 'direct' && inputIsMap && (opts.conv === 'winograd' || step.conv.input.c >= WINOGRAD_MIN_CHANNELS);
      if (!winograd) steps.push(scheduleDirect(step, inStride, variant));
      else steps.push(...scheduleWinogradSteps(fused, step, inStride, opts.winogradTile ?? 'auto', opts.winogradStream ?? 'auto', variant));
    } else if (step.kind === 'pool-flatten') steps.push(schedulePoolFlatten(step, inStride));
    else if (step.kind === 'linear') steps.push(scheduleLinear(step, variant, weightsDtype));
    else if (step.kind === 'map-activation') steps.push(scheduleMapActivation(step, inStride, variant));
    else if (step.kind === 'vector-relu') steps.push(scheduleVectorRelu(step, variant));
    else steps.push(scheduleOutputActivation(step));
  });
  return { fused, variant, weightsDtype, steps };
}

const spec = (s: Partial<KernelSpec> & Pick<KernelSpec, 'op' | 'isa'>): KernelSpec => ({ dtype: 'f32', weights: null, algo: null, tile: null, epilogue: [], variant: null, ...s });

function scheduleInput(input: MapShape): PackInputSchedule {
  // Stored unpadded: the first convolution reads a pixel's (kx, ci) run of 3·C floats contiguously.
  return { kind: 'pack-input', spec: spec({ op: 'pack-nchw-to-nhwc-pad1', isa: 'scalar' }), phase: 'image', input, workItems: input.h, workGrain: 1, macs: 0, outStride: input.c };
}

function convEpilogue(step: FusedConv): Epilogue[] {
  return step.pool ? ['bias', 'relu', 'maxpool2x2'] : step.relu ? ['bias', 'relu'] : ['bias'];
}

/** Work item = one output row; the map keeps its producer's stored channels. */
function scheduleMapActivation(step: FusedMapActivation, inStride: number, variant: KernelVariant): MapActivationSchedule {
  const simd = variant === 'wasmsimd';
  const kernel = spec({ op: step.pool ? 'maxpool2x2' : 'vrelu', epilogue: step.pool && step.relu ? ['relu'] : [], isa: simd ? 'wasmsimd' : 'scalar', variant: simd ? null : 'ref' });
  return { kind: 'map-activation', spec: kernel, phase: 'image', layer: step, inStride, outStride: inStride, workItems: step.output.h, workGrain: 1, macs: 0 };
}

/** Work item = one 8-feature block, for all images of the group. */
function scheduleVectorRelu(step: FusedVectorRelu, variant: KernelVariant): VectorReluSchedule {
  const simd = variant === 'wasmsimd';
  const outStride = storedChannels(step.features);
  return { kind: 'vector-relu', spec: spec({ op: 'vrelu', isa: simd ? 'wasmsimd' : 'scalar', variant: simd ? null : 'ref' }), phase: 'batch', layer: step, outStride, workItems: outStride / OUT_BLOCK, workGrain: 1, macs: 0 };
}

/** Multiply-adds of the direct algorithm; with the pool fused, conv rows/cols the floor-mode pool drops are not computed. */
function directMacs(step: FusedConv): number {
  const { input, output } = step.conv;
  const rows = step.pool ? step.output.h * 2 : output.h;
  const cols = step.pool ? step.output.w * 2 : output.w;
  return rows * cols * output.c * input.c * 9;
}

/**
 * A Winograd conv, or — where the cost model finds an odd tile (F(5×5)) cheaper than any even one that
 * can fuse the pool — the conv unpooled followed by its pool as a step of its own: the one place
 * where the scheduler undoes a fusion that fuse/ made. The pool pass reads the unpooled map once
 * (a 14×14×512 map: 0.4 MB against conv5's 462 M multiply-adds).
 */
function scheduleWinogradSteps(fused: FusedGraph, step: FusedConv, inStride: number, tile: WinogradTileChoice, stream: WinogradStreamChoice, variant: KernelVariant): ScheduledStep[] {
  const fusedConv = scheduleWinograd(step, inStride, tile, stream);
  if (!step.pool || tile !== 'auto') return [fusedConv];
  const poolAt = step.ops[0];
  const unpooled: FusedConv = { ...step, pool: false, output: step.conv.output, ops: [poolAt - 1] };
  const split = scheduleWinograd(unpooled, inStride, tile, stream);
  const splitCost = estimatedCost(split.winograd, inStride, split.outStride) + POOL_PASS_COST * mapValues(step.conv.output, split.outStride);
  if (split.winograd.transform.m % 2 === 0 || splitCost >= estimatedCost(fusedConv.winograd, inStride, fusedConv.outStride)) return [fusedConv];
  const poolOp = fused.graph.ops[poolAt];
  const pool: FusedMapActivation = { kind: 'map-activation', id: poolOp.id, input: step.conv.output, relu: false, pool: true, output: step.output, ops: [poolAt] };
  return [split, scheduleMapActivation(pool, split.outStride, variant)];
}

const mapValues = (m: MapShape, stride: number): number => m.h * m.w * stride;

function scheduleWinograd(step: FusedConv, inStride: number, tile: WinogradTileChoice, stream: WinogradStreamChoice): WinogradConvSchedule {
  const outStride = storedChannels(step.conv.output.c);
  const winograd = planWinograd(step, inStride, outStride, tile, stream);
  const streamVariant = winograd.stream === 'chunked' ? (`kc${winograd.reductionChunk}` as const) : winograd.stream === 'prefetch' ? 'prefetch' : null;
  return {
    kind: 'conv-winograd',
    spec: spec({ op: 'conv3x3p1', algo: `winograd-${winograd.transform.name}`, tile: [mainGemmRows(winograd.rowTiles[0]), OUT_BLOCK], epilogue: convEpilogue(step), isa: 'wasmsimd', variant: streamVariant }),
    phase: 'image', layer: step, winograd, inStride, outStride,
    workItems: winograd.blocks * winograd.coGroups,
    workGrain: winograd.coGroups,
    macs: directMacs(step),
  };
}

function scheduleDirect(step: FusedConv, inStride: number, variant: KernelVariant): DirectConvSchedule {
  const tile = step.pool ? { rows: 2, cols: 2, channels: OUT_BLOCK } : { rows: 1, cols: CONV_TILE_PIXELS, channels: OUT_BLOCK };
  const simd = variant === 'wasmsimd';
  return {
    kind: 'conv-direct',
    spec: spec({ op: 'conv3x3p1', tile: simd ? (step.pool ? [2, 2, OUT_BLOCK] : [tile.cols, OUT_BLOCK]) : null, epilogue: convEpilogue(step), isa: simd ? 'wasmsimd' : 'scalar', variant: simd ? null : 'ref' }),
    phase: 'image', layer: step, tile, inStride, outStride: storedChannels(step.conv.output.c),
    workItems: step.output.h, // output rows (pooled rows when the pool is fused)
    workGrain: 1,
    macs: directMacs(step),
  };
}

function schedulePoolFlatten(step: FusedPoolFlatten, inStride: number): PoolFlattenSchedule {
  const op = step.pool ? (step.pool.mode === 'avg' ? 'adaptiveavgpool-flatten-nchw' : 'adaptivemaxpool-flatten-nchw') : 'flatten-nchw';
  return { kind: 'pool-flatten', spec: spec({ op, isa: 'scalar' }), phase: 'image', layer: step, inStride, workItems: step.flattened.c, workGrain: 1, macs: 0, outStride: storedChannels(step.features) };
}

/** Per image of the group (work item = one image; items past the group's images do nothing). */
function scheduleOutputActivation(step: FusedOutputActivation): OutputActivationSchedule {
  const features = step.activation.features;
  return { kind: 'output-activation', spec: spec({ op: step.activation.fn, isa: 'scalar' }), phase: 'batch', layer: step, workItems: MAX_BATCH, workGrain: 1, macs: 0, outStride: storedChannels(features) };
}

function scheduleLinear(step: FusedLinear, variant: KernelVariant, dtype: WeightsDtype): LinearSchedule {
  const simd = variant === 'wasmsimd';
  const epilogue: Epilogue[] = step.relu ? ['bias', 'relu'] : ['bias'];
  // 4 images × 8 features per tile; the 1–3 images left over, one at a time, 4 blocks of 8 features per tile.
  const kernel = spec({ weights: weightsTag(dtype), op: 'gemm', tile: simd ? [FC_BATCH_TILE, OUT_BLOCK] : null, epilogue, isa: simd ? 'wasmsimd' : 'scalar', variant: simd ? `tail-1x${GEMV_BLOCKS * OUT_BLOCK}` : 'ref' });
  const { inFeatures, outFeatures } = step.linear;
  const outStride = storedChannels(outFeatures);
  return { kind: 'linear', spec: kernel, phase: 'batch', layer: step, outStride, workItems: outStride / OUT_BLOCK, workGrain: 1, macs: inFeatures * outFeatures };
}
