/**
 * Stage 5: Schedule → MemoryPlan. One static arena for every activation, offsets fixed at compile
 * time (nothing is allocated at run time), then the packed weights after it.
 *
 * wasm memory:  [0, ARENA_BASE) AssemblyScript's own static data
 *               [ARENA_BASE, +arenaBytes) activations, tensors placed by lifetime (first fit, largest first)
 *               [weightsBase, +payloadBytes) weights.bin's payload, read there in one go at load
 *               [preparedBase, +preparedBytes) tensors computed at load from the payload: the Winograd
 *                   filters of f16/int8 models (weights.bin keeps the small quantised 3×3 filters)
 */
import { VggcError } from '../errors.js';
import { WASM_MAX_BYTES } from '../config/config.js';
import type { MapShape, ParamTensor } from '../graph/graph.js';
import { MAX_BATCH, MAX_WORKERS, phaseOf, type Schedule, type ScheduledStep } from '../schedule/schedule.js';
import { OUT_BLOCK, packedByteLength, roundUp, TENSOR_ALIGN, type PackedTensor, type WeightLayout, type WeightsDtype } from '../weights/layout.js';

export const ARENA_BASE = 64 * 1024;
const FC_LAYOUT: Record<WeightsDtype, WeightLayout> = { f32: 'fc-oc8', f16: 'fc-f16-oc8', int8: 'fc-q8-oc8' };
const CONV_LAYOUT: Record<'f16' | 'int8', WeightLayout> = { f16: 'conv3x3-f16-oc8', int8: 'conv3x3-q8-oc8' };
/** Contract of the load-time filter transform: quantised 3×3 filters in, f32 Winograd U out. */
const PREPARE_KERNEL: Record<'f16' | 'int8', string> = {
  f16: 'f32-winograd-f4x4-filter-transform-f16w-wasmsimd',
  int8: 'f32-winograd-f4x4-filter-transform-qc8w-wasmsimd',
};
/**
 * Run parameters the host writes before a step (i32s, below the arena, where AssemblyScript keeps
 * no data): +0 the image of the batch that `image` steps work on, +4 the number of images `batch`
 * steps work on.
 */
export const RUN_PARAMS = 1024;
export const WASM_PAGE_BYTES = 64 * 1024;

/** How an activation is stored. */
export type TensorLayout =
  /** Network input as the user passes it: C×H×W floats. */
  | { readonly kind: 'nchw'; readonly shape: MapShape }
  /**
   * `rows` × `cols` pixels × channelStride floats, the map's interior starting at (1, 1). Everything
   * outside the interior is zero: the one-pixel border that 3×3 pad-1 convolutions read, plus any extra
   * bottom rows / right columns a Winograd consumer's whole 6×6 input tiles reach into.
   */
  | { readonly kind: 'nhwc-pad1'; readonly shape: MapShape; readonly channelStride: number; readonly rows: number; readonly cols: number }
  /**
   * `images` dense vectors of `length` floats, one per image of a batch, each `stored` floats apart
   * (≥ length, padded to whole 8-blocks).
   */
  | { readonly kind: 'vector'; readonly length: number; readonly stored: number; readonly images: number };

export interface ArenaTensor {
  readonly index: number;
  readonly layout: TensorLayout;
  readonly bytes: number;
  /** Absolute byte address in wasm memory. */
  readonly offset: number;
}


export interface PlannedStep {
  readonly index: number;
  /** Per-worker scratch (Winograd layers): worker k uses [offset + k·bytesPerWorker, +bytesPerWorker). */
  readonly scratch?: { readonly offset: number; readonly bytesPerWorker: number };
  /** Name of the exported wasm function: `layer03_conv2_1_pool2_f32_conv3x3p1_…`. */
  readonly exportName: string;
  readonly schedule: ScheduledStep;
  readonly input: ArenaTensor;
  readonly output: ArenaTensor;
  readonly weight?: PackedTensor;
  /** int8 weights: one float32 scale per output channel / feature. */
  readonly scale?: PackedTensor;
  readonly bias?: PackedTensor;
  /**
   * Winograd layers of f16/int8 models: the f32 filter U (winograd-f4x4-oc8 layout) lives at this
   * absolute address, computed at load by the `prepare` function from the quantised 3×3 `weight`.
   */
  readonly prepared?: { readonly offset: number; readonly bytes: number; readonly exportName: string; readonly kernel: string; readonly workItems: number };
}

export interface MemoryPlan {
  readonly schedule: Schedule;
  readonly steps: readonly PlannedStep[];
  readonly tensors: readonly ArenaTensor[];
  readonly arenaBase: number;
  readonly arenaBytes: number;
  /** Largest sum of activations alive at one time (a lower bound that arenaBytes is compared with). */
  readonly peakLiveBytes: number;
  /** Absolute address of the weights payload in wasm memory. */
  readonly weightsBase: number;
  readonly weightsPayloadBytes: number;
  /** Absolute address and size of the tensors computed at load (0 bytes for f32 models). */
  readonly preparedBase: number;
  readonly preparedBytes: number;
  readonly packed: readonly PackedTensor[];
  readonly memoryPages: number;
  readonly input: ArenaTensor;
  readonly output: ArenaTensor;
}

export function planMemory(sched: Schedule, label: string): MemoryPlan {
  const steps0 = sched.steps;
  const layouts: TensorLayout[] = [{ kind: 'nchw', shape: sched.fused.graph.input }];
  steps0.forEach((s, i) => layouts.push(outputLayout(s, steps0[i + 1])));
  const sizes = layouts.map((l) => roundUp(layoutBytes(l), TENSOR_ALIGN));
  // Tensor i is written by step i-1 and read by step i; a scratch lives during its own step only.
  // The classifier's input is the exception: it is written image by image while the convolutional
  // steps run for every image of a batch, so it must outlive all of them.
  const items: LiveRange[] = sizes.map((size, i) => {
    const batchInput = i > 0 && i < steps0.length && phaseOf(steps0[i - 1]) === 'image' && phaseOf(steps0[i]) === 'batch';
    return { size, first: batchInput ? -1 : i - 1, last: i };
  });
  const scratchItems = new Map<number, LiveRange>();
  steps0.forEach((s, i) => {
    const perWorker = scratchBytesPerWorker(s);
    if (perWorker) {
      const item = { size: perWorker * MAX_WORKERS, first: i, last: i };
      scratchItems.set(i, item);
      items.push(item);
    }
  });
  const offsets = placeByLifetime(items);
  const tensors: ArenaTensor[] = layouts.map((layout, index) => ({ index, layout, bytes: sizes[index], offset: ARENA_BASE + offsets[index] }));
  const arenaBytes = roundUp(Math.max(...items.map((it, i) => offsets[i] + it.size)), TENSOR_ALIGN);
  const peakLiveBytes = Math.max(...steps0.map((_, i) => items.filter((it) => it.first <= i && i <= it.last).reduce((n, it) => n + it.size, 0)));
  const scratchOf = (i: number): PlannedStep['scratch'] => {
    const item = scratchItems.get(i);
    return item ? { offset: ARENA_BASE + offsets[items.indexOf(item)], bytesPerWorker: item.size / MAX_WORKERS } : undefined;
  };

  const packed: PackedTensor[] = [];
  let payload = 0;
  const dtype = sched.weightsDtype;
  const pack = (param: ParamTensor, layout: WeightLayout, inChannelsPadded?: number): PackedTensor => {
    const roundedTo = layout === 'conv3x3-oc8' ? dtype : undefined; // direct convolutions store f16/int8 values as f32
    const t = { param, layout, offset: payload, byteLength: packedByteLength(param, layout, inChannelsPadded), inChannelsPadded, roundedTo };
    payload = roundUp(payload + t.byteLength, TENSOR_ALIGN);
    packed.push(t);
    return t;
  };
  // Prepared tensors, placed after the payload once its size is known (offsets relative until then).
  let preparedBytes = 0;
  const planned: PlannedStep[] = sched.steps.map((schedule, index) => {
    const base = { index, exportName: exportName(index, schedule), schedule, input: tensors[index], output: tensors[index + 1], scratch: scratchOf(index) };
    if (schedule.kind === 'conv' && schedule.algorithm === 'winograd-f4x4') {
      const inStride = (tensors[index].layout as { channelStride: number }).channelStride;
      const w = schedule.step.conv.weight;
      if (dtype === 'f32') return { ...base, weight: pack(w, 'winograd-f4x4-oc8', inStride), bias: pack(schedule.step.conv.bias, 'bias-pad8') };
      // f16/int8: weights.bin holds the quantised 3×3 filters (8× / 16× smaller than the transformed
      // f32 U); U is computed from them at load, into memory after the payload.
      const weight = pack(w, CONV_LAYOUT[dtype]);
      const scale = dtype === 'int8' ? pack(w, 'scale-q8-pad8') : undefined;
      const prepared = { offset: preparedBytes, bytes: packedByteLength(w, 'winograd-f4x4-oc8', inStride), exportName: `prepare${String(index).padStart(2, '0')}_${schedule.step.conv.id}_${PREPARE_KERNEL[dtype].replace(/-/g, '_')}`, kernel: PREPARE_KERNEL[dtype], workItems: schedule.outChannelsPadded / OUT_BLOCK };
      preparedBytes = roundUp(preparedBytes + prepared.bytes, TENSOR_ALIGN);
      return { ...base, weight, scale, bias: pack(schedule.step.conv.bias, 'bias-pad8'), prepared };
    }
    if (schedule.kind === 'conv') return { ...base, weight: pack(schedule.step.conv.weight, 'conv3x3-oc8'), bias: pack(schedule.step.conv.bias, 'bias-pad8') };
    if (schedule.kind === 'linear') {
      const w = schedule.step.linear.weight;
      const weight = pack(w, FC_LAYOUT[dtype]);
      const scale = dtype === 'int8' ? pack(w, 'scale-q8-pad8') : undefined;
      return { ...base, weight, scale, bias: pack(schedule.step.linear.bias, 'bias-pad8') };
    }
    return base;
  });

  const weightsBase = roundUp(ARENA_BASE + arenaBytes, WASM_PAGE_BYTES);
  const preparedBase = roundUp(weightsBase + payload, TENSOR_ALIGN);
  const steps = planned.map((st) => (st.prepared ? { ...st, prepared: { ...st.prepared, offset: preparedBase + st.prepared.offset } } : st));
  const total = preparedBase + preparedBytes;
  if (total > WASM_MAX_BYTES) {
    const prepared = preparedBytes ? ` + filters transformed at load ${gib(preparedBytes)} GiB` : '';
    throw new VggcError(`${label}: the model needs ${gib(total)} GiB of wasm memory (weights ${gib(payload)} GiB${prepared} + activations ${gib(arenaBytes)} GiB) but WebAssembly allows at most 4 GiB`);
  }
  return {
    schedule: sched, steps, tensors, arenaBase: ARENA_BASE, arenaBytes, peakLiveBytes, weightsBase,
    weightsPayloadBytes: payload, preparedBase, preparedBytes, packed, memoryPages: Math.ceil(total / WASM_PAGE_BYTES),
    input: tensors[0], output: tensors[tensors.length - 1],
  };
}

/** A map's stored size: its interior plus the zero border, grown to whatever a Winograd consumer's tiles reach. */
function mapLayout(shape: MapShape, channelStride: number, consumer: ScheduledStep | undefined): TensorLayout {
  let rows = shape.h + 2;
  let cols = shape.w + 2;
  if (consumer?.kind === 'conv' && consumer.winograd) {
    rows = Math.max(rows, 4 * consumer.winograd.tileRows + 2);
    cols = Math.max(cols, 4 * consumer.winograd.tileCols + 2);
  }
  return { kind: 'nhwc-pad1', shape, channelStride, rows, cols };
}

/** Winograd: transformed input V [36][tiles][Cin] and GEMM result M [36][tiles][Cout] for one block. */
function scratchBytesPerWorker(s: ScheduledStep): number {
  if (s.kind !== 'conv' || !s.winograd) return 0;
  const inStride = roundUp(s.step.conv.input.c, 8);
  return roundUp(36 * s.winograd.tilesPerBlockPadded * (inStride + s.outChannelsPadded) * 4, TENSOR_ALIGN);
}

function outputLayout(s: ScheduledStep, consumer: ScheduledStep | undefined): TensorLayout {
  switch (s.kind) {
    case 'pack-input':
      return mapLayout(s.input, s.input.c, consumer);
    case 'conv':
      return mapLayout(s.step.output, s.outChannelsPadded, consumer);
    case 'pool-flatten':
      return { kind: 'vector', length: s.step.features, stored: roundUp(s.step.features, 8), images: MAX_BATCH };
    case 'linear':
      return { kind: 'vector', length: s.step.linear.outFeatures, stored: s.outFeaturesPadded, images: MAX_BATCH };
  }
}

export function layoutBytes(l: TensorLayout): number {
  switch (l.kind) {
    case 'nchw':
      return l.shape.c * l.shape.h * l.shape.w * 4;
    case 'nhwc-pad1':
      return l.rows * l.cols * l.channelStride * 4;
    case 'vector':
      return l.stored * l.images * 4;
  }
}

/** A block of arena memory needed from step `first` to step `last` (inclusive). */
interface LiveRange {
  readonly size: number;
  readonly first: number;
  readonly last: number;
}

/**
 * Blocks whose step ranges overlap must not share memory; others may. Largest first, each at the
 * lowest offset that does not collide with an already placed block whose lifetime overlaps.
 */
function placeByLifetime(items: readonly LiveRange[]): number[] {
  const offsets = new Array<number>(items.length).fill(-1);
  const order = items.map((_, i) => i).sort((a, b) => items[b].size - items[a].size || a - b);
  const overlap = (a: LiveRange, b: LiveRange): boolean => a.first <= b.last && b.first <= a.last;
  for (const i of order) {
    const clashes = order
      .filter((j) => offsets[j] >= 0 && overlap(items[i], items[j]))
      .map((j) => [offsets[j], offsets[j] + items[j].size] as const)
      .sort((a, b) => a[0] - b[0]);
    let at = 0;
    for (const [start, end] of clashes) {
      if (at + items[i].size <= start) break;
      at = Math.max(at, end);
    }
    offsets[i] = at;
  }
  return offsets;
}

function exportName(index: number, s: ScheduledStep): string {
  const id =
    s.kind === 'pack-input' ? 'input'
    : s.kind === 'conv' ? (s.step.pool ? `${s.step.conv.id}_${s.step.conv.id.replace(/^conv(\d+)_\d+$/, 'pool$1')}` : s.step.conv.id)
    : s.kind === 'pool-flatten' ? (s.step.avgPool ? 'avgpool_flatten' : 'flatten')
    : s.step.linear.id;
  return `layer${String(index).padStart(2, '0')}_${id}_${s.kernel.replace(/-/g, '_')}`;
}

const gib = (b: number): string => (b / 2 ** 30).toFixed(2);
