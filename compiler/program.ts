/**
 * The Program: the one typed value the compiler's passes produce (plan/plan.ts builds it from the
 * schedule) and everything after them reads — codegen, the weight packer, the manifest, the summary
 * and the wasm tag. It holds every step's kernel as a structured KernelSpec, every activation with
 * its address, the memory map and the packed weights' layouts.
 *
 * Kernel names state their contract, XNNPACK style, in one fixed order:
 *   dtype [-weights] -op [-algo] [-tile] [-epilogue…] -isa [-variant]
 * e.g. `f32-conv3x3p1-winograd-f6x6-4x8-bias-relu-maxpool2x2-wasmsimd` (float32 3×3 pad-1
 * convolution by Winograd F(6×6,3×3), GEMM register tile 4×8, then bias, ReLU and a 2×2 max-pool) or
 * `f32-qc8w-gemm-4x8-bias-relu-wasmsimd-tail-1x32` (int8 weights with per-channel scales, a 4×8
 * tile over images, and a 1×32 tile over features for the images left over). kernelName() is the only
 * code that writes such a string; nothing reads one back.
 */
import type { LayerGraph } from './graph/graph.js';
import type { DirectConvSchedule, KernelVariant, LinearSchedule, MapActivationSchedule, OutputActivationSchedule, PackInputSchedule, PoolFlattenSchedule, ScheduledStep, VectorReluSchedule, WinogradConvSchedule } from './schedule/schedule.js';
import type { PackedTensor, WeightsDtype } from './weights/layout.js';
import type { MapShape } from './graph/graph.js';
import type { WinogradTileName } from './winograd/winograd.js';

/** What a kernel does after its reduction, in registers, before its only store. */
export type Epilogue = 'bias' | 'relu' | 'maxpool2x2';

export type KernelOp =
  | 'pack-nchw-to-nhwc-pad1'
  | 'conv3x3p1'
  | 'flatten-nchw'
  | 'adaptiveavgpool-flatten-nchw'
  | 'adaptivemaxpool-flatten-nchw'
  | 'gemm'
  | 'softmax'
  | 'sigmoid'
  | 'vrelu'
  | 'maxpool2x2'
  | 'filter-transform';

export interface KernelSpec {
  /** Activations: float32 throughout. */
  readonly dtype: 'f32';
  /** Weights stored narrower than the activations: `f16w` (IEEE half) or `qc8w` (int8, per-channel scales). */
  readonly weights: 'f16w' | 'qc8w' | null;
  readonly op: KernelOp;
  readonly algo: `winograd-${WinogradTileName}` | null;
  /** Register tile, e.g. [2, 2, 8] (2×2 pixels × 8 channels) or [4, 8]; null for kernels without one. */
  readonly tile: readonly number[] | null;
  readonly epilogue: readonly Epilogue[];
  readonly isa: 'wasmsimd' | 'scalar';
  /**
   * `ref`: the plain reference loops; `tail-1xN`: the 1-image × N-feature tile for the images a GEMM
   * tile leaves over; `kcN`: a Winograd GEMM's reduction in chunks of N input channels; `prefetch`: a
   * Winograd GEMM that reads each filter panel ahead of its register tiles (schedule/winograd-plan.ts).
   */
  readonly variant: 'ref' | `tail-1x${number}` | `kc${number}` | 'prefetch' | null;
}

export function kernelName(k: KernelSpec): string {
  return [k.dtype, k.weights, k.op, k.algo, k.tile?.join('x'), ...k.epilogue, k.isa, k.variant].filter((part) => part).join('-');
}

/** The weights tag of a kernel that reads weights stored as `dtype`. */
export const weightsTag = (dtype: WeightsDtype): KernelSpec['weights'] => ({ f32: null, f16: 'f16w', int8: 'qc8w' } as const)[dtype];

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

interface PlannedStep<S extends ScheduledStep> {
  readonly index: number;
  /** Name of the exported wasm function: `layer03_conv2_1_pool2_f32_conv3x3p1_…`. */
  readonly exportName: string;
  /** kernelName(schedule.spec). */
  readonly kernel: string;
  readonly schedule: S;
  readonly input: ArenaTensor;
  readonly output: ArenaTensor;
}

export interface PackInputStep extends PlannedStep<PackInputSchedule> {
  readonly kind: 'pack-input';
}
export interface DirectConvStep extends PlannedStep<DirectConvSchedule> {
  readonly kind: 'conv-direct';
  readonly weight: PackedTensor;
  readonly bias: PackedTensor;
}
/** Per-worker scratch: worker k uses [offset + k·bytesPerWorker, +bytesPerWorker). */
export interface Scratch {
  readonly offset: number;
  readonly bytesPerWorker: number;
}
/**
 * The Winograd filter U of an f16/int8 model, computed once at load by a generated `prepare`
 * function from the quantised 3×3 filters that weights.bin keeps.
 */
export interface PreparedFilter {
  /** Absolute address of U (winograd layout), after the payload. */
  readonly address: number;
  readonly bytes: number;
  readonly exportName: string;
  readonly spec: KernelSpec;
  readonly kernel: string;
  /** One per 8-channel output block. */
  readonly workItems: number;
}
export interface WinogradConvStep extends PlannedStep<WinogradConvSchedule> {
  readonly kind: 'conv-winograd';
  /** The stored 3×3 filters (conv3x3 layout, in the model's dtype) that `prepared` transforms into U at load. */
  readonly weight: PackedTensor;
  readonly bias: PackedTensor;
  /** int8: the per-output-channel scales of `weight`. */
  readonly scale: PackedTensor | null;
  readonly scratch: Scratch;
  readonly prepared: PreparedFilter | null;
}
export interface PoolFlattenStep extends PlannedStep<PoolFlattenSchedule> {
  readonly kind: 'pool-flatten';
}
export interface LinearStep extends PlannedStep<LinearSchedule> {
  readonly kind: 'linear';
  readonly weight: PackedTensor;
  readonly bias: PackedTensor;
  /** int8: the per-output-feature scales of `weight`. */
  readonly scale: PackedTensor | null;
}
export interface OutputActivationStep extends PlannedStep<OutputActivationSchedule> {
  readonly kind: 'output-activation';
}
export interface MapActivationStep extends PlannedStep<MapActivationSchedule> {
  readonly kind: 'map-activation';
}
export interface VectorReluStep extends PlannedStep<VectorReluSchedule> {
  readonly kind: 'vector-relu';
}
export type ProgramStep = PackInputStep | DirectConvStep | WinogradConvStep | PoolFlattenStep | LinearStep | OutputActivationStep | MapActivationStep | VectorReluStep;

/**
 * wasm memory:  [0, arenaBase) AssemblyScript's own static data and the run parameters
 *               [arenaBase, +arenaBytes) activations and scratch, placed by lifetime
 *               [weightsBase, +payloadBytes) weights.bin's payload, read there in one go at load
 *               [preparedBase, +preparedBytes) tensors computed at load from the payload
 */
export interface MemoryMap {
  readonly arenaBase: number;
  readonly arenaBytes: number;
  /** Largest sum of activations alive at one time (a lower bound that arenaBytes is compared with). */
  readonly peakLiveBytes: number;
  readonly weightsBase: number;
  readonly preparedBase: number;
  readonly preparedBytes: number;
  /** Pages of 64 KiB: the module's exact memory size, which it never grows beyond. */
  readonly pages: number;
  /** Address of the run parameters (runtime/format/run-params.ts). */
  readonly params: number;
  /** Most threads the per-worker scratch areas were planned for. */
  readonly maxWorkers: number;
}

/** A named output: which tensor, and how the runtime hands it over. */
export interface ProgramOutput {
  /** The name as requested (`relu4_3`, `features.22`, `block4_conv3`), or `logits` / `probabilities` by default. */
  readonly name: string;
  /** Its conventional name. */
  readonly canonical: string;
  /** The step that writes it. */
  readonly step: number;
  /** `image`: copied out after each image's steps; `batch`: after the classifier. */
  readonly phase: 'image' | 'batch';
  readonly tensor: ArenaTensor;
  /** Per image, as returned: [c, h, w] (NCHW) for maps, [features] for vectors. */
  readonly shape: readonly number[];
  /** A flatten of a map: that map's [c, h, w] (the vector is in c, h, w order). */
  readonly flattened?: readonly number[];
}

export interface Program {
  readonly graph: LayerGraph;
  readonly variant: KernelVariant;
  readonly weightsDtype: WeightsDtype;
  readonly steps: readonly ProgramStep[];
  readonly tensors: readonly ArenaTensor[];
  readonly memory: MemoryMap;
  readonly weights: { readonly payloadBytes: number; readonly tensors: readonly PackedTensor[] };
  readonly input: ArenaTensor;
  /** The named outputs, in the order asked (the first is what infer() returns). */
  readonly outputs: readonly ProgramOutput[];
  /** Where a named output split a fusion, and why (fuse/fuse.ts). */
  readonly splits: readonly string[];
  /** Images whose classifier runs together (the `batch` steps run once per group of this many). */
  readonly maxBatch: number;
}

/** One line per step for people: model.json's `description` and `vggc summary` both print it. */
export function describeStep(step: ProgramStep): string {
  const s = step.schedule;
  switch (s.kind) {
    case 'pack-input':
      return `input ${s.input.c}×${s.input.h}×${s.input.w} → padded NHWC`;
    case 'conv-direct':
    case 'conv-winograd': {
      const { conv, pool, relu } = s.layer;
      return `${conv.id} ${conv.input.c}→${conv.output.c} ${conv.input.h}×${conv.input.w}${relu ? ' + ReLU' : ''}${pool ? ' + max-pool 2×2' : ''}`;
    }
    case 'map-activation':
      return `${s.layer.id}: ${[s.layer.relu ? 'ReLU' : '', s.layer.pool ? 'max-pool 2×2' : ''].filter((x) => x).join(' + ')} ${s.layer.input.c}×${s.layer.input.h}×${s.layer.input.w}`;
    case 'vector-relu':
      return `${s.layer.id}: ReLU over ${s.layer.features}`;
    case 'pool-flatten':
      return s.layer.pool ? `adaptive ${s.layer.pool.mode}-pool → ${s.layer.flattened.h}×${s.layer.flattened.w}, flatten ${s.layer.features}` : `flatten ${s.layer.features}`;
    case 'linear':
      return `${s.layer.linear.id} ${s.layer.linear.inFeatures}→${s.layer.linear.outFeatures}${s.layer.relu ? ' + ReLU' : ''}`;
    case 'output-activation':
      return `${s.layer.activation.fn} over ${s.layer.activation.features}`;
  }
}
