/**
 * Activation planning: every tensor a step writes gets a stored layout (padded NHWC maps with a zero
 * frame, per-image vectors) and a place in one static arena, by lifetime: tensors whose steps overlap
 * never share memory, all others may (first fit, largest first). Offsets are fixed at compile time;
 * nothing is allocated at run time.
 */
import type { MapShape } from '../graph/graph.js';
import type { ArenaTensor, Scratch, TensorLayout } from '../program.js';
import type { ScheduledStep } from '../schedule/schedule.js';
import { MAX_BATCH, MAX_WORKERS } from '../schedule/schedule.js';
import { roundUp, TENSOR_ALIGN } from '../weights/layout.js';
import type { OutputStep } from './outputs.js';

/** Start of the arena: below it, AssemblyScript's own static data and the run parameters. */
export const ARENA_BASE = 64 * 1024;

export interface ActivationPlan {
  /** Tensor 0 is the network input; tensor i + 1 is what step i writes. */
  readonly tensors: readonly ArenaTensor[];
  /** Per-worker scratch of the steps that have one (Winograd layers), by step index. */
  readonly scratch: ReadonlyMap<number, Scratch>;
  readonly arenaBytes: number;
  /** Largest sum of blocks alive at one time: a lower bound that arenaBytes is compared with. */
  readonly peakLiveBytes: number;
}

/** A block of arena memory needed from step `first` to step `last` (inclusive). */
interface LiveRange {
  readonly size: number;
  readonly first: number;
  readonly last: number;
}

/** `outputs`: the tensors the runtime copies out, kept alive until it has (plan/outputs.ts). */
export function planActivations(steps: readonly ScheduledStep[], input: MapShape, outputs: readonly OutputStep[] = []): ActivationPlan {
  const layouts: TensorLayout[] = [{ kind: 'nchw', shape: input }];
  steps.forEach((s, i) => layouts.push(outputLayout(s, steps[i + 1])));
  const sizes = layouts.map((l) => roundUp(layoutBytes(l), TENSOR_ALIGN));
  // Tensor i is written by step i-1 and read by step i; a scratch lives during its own step only.
  // The classifier's input is the exception: it is written image by image while the convolutional
  // steps run for every image of a batch, so it must outlive all of them.
  const keep = new Map(outputs.map((o) => [o.step + 1, o.keepUntil]));
  const items: LiveRange[] = sizes.map((size, i) => {
    const batchInput = i > 0 && i < steps.length && steps[i - 1].phase === 'image' && steps[i].phase === 'batch';
    return { size, first: batchInput ? -1 : i - 1, last: Math.max(i, keep.get(i) ?? i) };
  });
  const scratchItems = new Map<number, number>(); // step index → item index
  steps.forEach((s, i) => {
    const perWorker = scratchBytesPerWorker(s);
    if (perWorker) {
      scratchItems.set(i, items.length);
      items.push({ size: perWorker * MAX_WORKERS, first: i, last: i });
    }
  });
  const offsets = placeByLifetime(items);
  const tensors = layouts.map((layout, index) => ({ index, layout, bytes: sizes[index], offset: ARENA_BASE + offsets[index] }));
  const scratch = new Map([...scratchItems].map(([step, item]) => [step, { offset: ARENA_BASE + offsets[item], bytesPerWorker: items[item].size / MAX_WORKERS }]));
  const arenaBytes = roundUp(Math.max(...items.map((it, i) => offsets[i] + it.size)), TENSOR_ALIGN);
  const peakLiveBytes = Math.max(...steps.map((_, i) => items.filter((it) => it.first <= i && i <= it.last).reduce((n, it) => n + it.size, 0)));
  return { tensors, scratch, arenaBytes, peakLiveBytes };
}

/** A map's stored size: its interior plus the zero border, grown to whatever a Winograd consumer's tiles reach. */
function mapLayout(shape: MapShape, channelStride: number, consumer: ScheduledStep | undefined): TensorLayout {
  let rows = shape.h + 2;
  let cols = shape.w + 2;
  if (consumer?.kind === 'conv-winograd') {
    // Whole α×α input tiles at a stride of m: the last tile reaches α − m = 2 pixels past its outputs.
    const { m, alpha } = consumer.winograd.transform;
    rows = Math.max(rows, m * consumer.winograd.tileRows + alpha - m);
    cols = Math.max(cols, m * consumer.winograd.tileCols + alpha - m);
  }
  return { kind: 'nhwc-pad1', shape, channelStride, rows, cols };
}

/** Winograd: transformed input V [α²][tiles][Cin] and GEMM result M [α²][tiles][Cout] for one block, in padded frequency slabs. */
function scratchBytesPerWorker(s: ScheduledStep): number {
  if (s.kind !== 'conv-winograd') return 0;
  return roundUp(s.winograd.transform.alpha ** 2 * (s.winograd.vSlabBytes + s.winograd.mSlabBytes), TENSOR_ALIGN);
}

function outputLayout(s: ScheduledStep, consumer: ScheduledStep | undefined): TensorLayout {
  switch (s.kind) {
    case 'pack-input':
      return mapLayout(s.input, s.outStride, consumer);
    case 'conv-direct':
    case 'conv-winograd':
      return mapLayout(s.layer.output, s.outStride, consumer);
    case 'pool-flatten':
      return { kind: 'vector', length: s.layer.features, stored: s.outStride, images: MAX_BATCH };
    case 'linear':
      return { kind: 'vector', length: s.layer.linear.outFeatures, stored: s.outStride, images: MAX_BATCH };
    case 'output-activation':
      return { kind: 'vector', length: s.layer.activation.features, stored: s.outStride, images: MAX_BATCH };
    case 'map-activation':
      return mapLayout(s.layer.output, s.outStride, consumer);
    case 'vector-relu':
      return { kind: 'vector', length: s.layer.features, stored: s.outStride, images: MAX_BATCH };
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
