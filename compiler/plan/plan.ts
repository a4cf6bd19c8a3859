/**
 * Stage 5: Schedule → MemoryPlan. One static arena for every activation, offsets fixed at compile
 * time (nothing is allocated at run time), then the packed weights after it.
 *
 * wasm memory:  [0, ARENA_BASE) AssemblyScript's own static data
 *               [ARENA_BASE, +arenaBytes) activations, tensors placed by lifetime (first fit, largest first)
 *               [weightsBase, +payloadBytes) weights.bin's payload, read there in one go at load
 */
import { VggcError } from '../errors.js';
import { WASM_MAX_BYTES } from '../config/config.js';
import type { MapShape, ParamTensor } from '../graph/graph.js';
import type { Schedule, ScheduledStep } from '../schedule/schedule.js';
import { packedByteLength, roundUp, TENSOR_ALIGN, type PackedTensor, type WeightLayout } from '../weights/layout.js';

export const ARENA_BASE = 64 * 1024;
export const WASM_PAGE_BYTES = 64 * 1024;

/** How an activation is stored. */
export type TensorLayout =
  /** Network input as the user passes it: C×H×W floats. */
  | { readonly kind: 'nchw'; readonly shape: MapShape }
  /** H+2 rows × W+2 columns × channelStride floats; the one-pixel border is zero (3×3 pad-1 convolutions read it). */
  | { readonly kind: 'nhwc-pad1'; readonly shape: MapShape; readonly channelStride: number }
  /** A dense vector of `length` floats (`stored` ≥ length, padded to whole 8-blocks). */
  | { readonly kind: 'vector'; readonly length: number; readonly stored: number };

export interface ArenaTensor {
  readonly index: number;
  readonly layout: TensorLayout;
  readonly bytes: number;
  /** Absolute byte address in wasm memory. */
  readonly offset: number;
}

export interface PlannedStep {
  readonly index: number;
  /** Name of the exported wasm function: `layer03_conv2_1_pool2_f32_conv3x3p1_…`. */
  readonly exportName: string;
  readonly schedule: ScheduledStep;
  readonly input: ArenaTensor;
  readonly output: ArenaTensor;
  readonly weight?: PackedTensor;
  readonly bias?: PackedTensor;
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
  readonly packed: readonly PackedTensor[];
  readonly memoryPages: number;
  readonly input: ArenaTensor;
  readonly output: ArenaTensor;
}

export function planMemory(sched: Schedule, label: string): MemoryPlan {
  const layouts: TensorLayout[] = [{ kind: 'nchw', shape: sched.fused.graph.input }];
  for (const s of sched.steps) layouts.push(outputLayout(s));
  const sizes = layouts.map((l) => roundUp(layoutBytes(l), TENSOR_ALIGN));
  const offsets = placeByLifetime(sizes);
  const tensors: ArenaTensor[] = layouts.map((layout, index) => ({ index, layout, bytes: sizes[index], offset: ARENA_BASE + offsets[index] }));
  const arenaBytes = roundUp(Math.max(...offsets.map((o, i) => o + sizes[i])), TENSOR_ALIGN);
  const peakLiveBytes = Math.max(...sizes.slice(1).map((s, i) => s + sizes[i]));

  const packed: PackedTensor[] = [];
  let payload = 0;
  const pack = (param: ParamTensor, layout: WeightLayout): PackedTensor => {
    const t = { param, layout, offset: payload, byteLength: packedByteLength(param, layout) };
    payload = roundUp(payload + t.byteLength, TENSOR_ALIGN);
    packed.push(t);
    return t;
  };
  const steps: PlannedStep[] = sched.steps.map((schedule, index) => {
    const base = { index, exportName: exportName(index, schedule), schedule, input: tensors[index], output: tensors[index + 1] };
    if (schedule.kind === 'conv') return { ...base, weight: pack(schedule.step.conv.weight, 'conv3x3-oc8'), bias: pack(schedule.step.conv.bias, 'bias-pad8') };
    if (schedule.kind === 'linear') return { ...base, weight: pack(schedule.step.linear.weight, 'fc-oc8'), bias: pack(schedule.step.linear.bias, 'bias-pad8') };
    return base;
  });

  const weightsBase = roundUp(ARENA_BASE + arenaBytes, WASM_PAGE_BYTES);
  const total = weightsBase + payload;
  if (total > WASM_MAX_BYTES) {
    throw new VggcError(`${label}: the model needs ${gib(total)} GiB of wasm memory (weights ${gib(payload)} GiB + activations ${gib(arenaBytes)} GiB) but WebAssembly allows at most 4 GiB`);
  }
  return {
    schedule: sched, steps, tensors, arenaBase: ARENA_BASE, arenaBytes, peakLiveBytes, weightsBase,
    weightsPayloadBytes: payload, packed, memoryPages: Math.ceil(total / WASM_PAGE_BYTES),
    input: tensors[0], output: tensors[tensors.length - 1],
  };
}

function outputLayout(s: ScheduledStep): TensorLayout {
  switch (s.kind) {
    case 'pack-input':
      return { kind: 'nhwc-pad1', shape: s.input, channelStride: s.input.c };
    case 'conv':
      return { kind: 'nhwc-pad1', shape: s.step.output, channelStride: s.outChannelsPadded };
    case 'pool-flatten':
      return { kind: 'vector', length: s.step.features, stored: roundUp(s.step.features, 8) };
    case 'linear':
      return { kind: 'vector', length: s.step.linear.outFeatures, stored: s.outFeaturesPadded };
  }
}

export function layoutBytes(l: TensorLayout): number {
  switch (l.kind) {
    case 'nchw':
      return l.shape.c * l.shape.h * l.shape.w * 4;
    case 'nhwc-pad1':
      return (l.shape.h + 2) * (l.shape.w + 2) * l.channelStride * 4;
    case 'vector':
      return l.stored * 4;
  }
}

/**
 * Tensor i is written by step i-1 and read by step i (tensor 0, the input, is written by the host),
 * so tensors i and j may share memory when |i - j| ≥ 2. Largest first, each at the lowest offset that
 * does not collide with an already placed tensor whose lifetime overlaps.
 */
function placeByLifetime(sizes: readonly number[]): number[] {
  const offsets = new Array<number>(sizes.length).fill(-1);
  const order = sizes.map((_, i) => i).sort((a, b) => sizes[b] - sizes[a] || a - b);
  for (const i of order) {
    const clashes = order
      .filter((j) => offsets[j] >= 0 && Math.abs(i - j) < 2)
      .map((j) => [offsets[j], offsets[j] + sizes[j]] as const)
      .sort((a, b) => a[0] - b[0]);
    let at = 0;
    for (const [start, end] of clashes) {
      if (at + sizes[i] <= start) break;
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
