/**
 * Weight planning, two separate jobs:
 * - choice: which parameter tensors each step's kernel reads, in which layout (weightsOf);
 * - placement: where each packed tensor lies in weights.bin's payload and in wasm memory, and where
 *   the tensors computed at load go after the payload (placeWeights).
 */
import type { ParamTensor } from '../graph/graph.js';
import { kernelName, weightsTag, type KernelSpec, type PreparedFilter } from '../program.js';
import type { ScheduledStep } from '../schedule/schedule.js';
import { OUT_BLOCK, packedByteLength, roundUp, TENSOR_ALIGN, type PackedTensor, type WeightLayout, type WeightsDtype } from '../weights/layout.js';

/** One tensor a kernel reads: a parameter in the layout the kernel reads it in. */
export interface WeightChoice {
  readonly param: ParamTensor;
  readonly layout: WeightLayout;
}

/** What one step reads from weights.bin, and what is computed from it at load. */
export interface StepWeightChoice {
  readonly weight: WeightChoice;
  readonly bias: WeightChoice;
  readonly scale: WeightChoice | null;
  /** f16/int8 Winograd layers: U = G g Gᵀ in f32 (winograd layout), computed at load from `weight`. */
  readonly prepared: { readonly layout: WeightLayout; readonly spec: KernelSpec; readonly workItems: number } | null;
}

const BIAS: WeightLayout = { op: 'bias', dtype: 'f32' };
const SCALES: WeightLayout = { op: 'int8-scales', dtype: 'f32' };

/** The weights `step` reads with weights stored as `dtype`, or null for steps without weights. */
export function weightsOf(step: ScheduledStep, dtype: WeightsDtype): StepWeightChoice | null {
  const scaleOf = (param: ParamTensor): WeightChoice | null => (dtype === 'int8' ? { param, layout: SCALES } : null);
  switch (step.kind) {
    case 'pack-input':
    case 'pool-flatten':
    case 'output-activation':
    case 'map-activation':
    case 'vector-relu':
      return null;
    case 'conv-direct': {
      // The direct kernel reads f32: f16/int8 models store the dtype's values as f32.
      const { weight, bias } = step.layer.conv;
      const layout: WeightLayout = dtype === 'f32' ? { op: 'conv3x3', dtype: 'f32' } : { op: 'conv3x3', dtype: 'f32', roundedTo: dtype };
      return { weight: { param: weight, layout }, bias: { param: bias, layout: BIAS }, scale: null, prepared: null };
    }
    case 'conv-winograd': {
      const { weight, bias } = step.layer.conv;
      const tile = step.winograd.transform.name;
      const transformed: WeightLayout = { op: 'winograd', tile, dtype: 'f32', inChannelsPadded: step.inStride };
      // The weights hold the 3×3 filters, in the dtype (f32: 4× smaller than the transformed U with its
      // α² values per filter, 16× for int8, whose values the dtype could not represent anyway); U is
      // computed from them at load.
      const spec: KernelSpec = { dtype: 'f32', weights: weightsTag(dtype), op: 'filter-transform', algo: `winograd-${tile}`, tile: null, epilogue: [], isa: 'wasmsimd', variant: null };
      return {
        weight: { param: weight, layout: { op: 'conv3x3', dtype } },
        bias: { param: bias, layout: BIAS },
        scale: scaleOf(weight),
        prepared: { layout: transformed, spec, workItems: step.outStride / OUT_BLOCK },
      };
    }
    case 'linear': {
      const { weight, bias } = step.layer.linear;
      return { weight: { param: weight, layout: { op: 'linear', dtype } }, bias: { param: bias, layout: BIAS }, scale: scaleOf(weight), prepared: null };
    }
  }
}

export interface PlacedStepWeights {
  readonly weight: PackedTensor;
  readonly bias: PackedTensor;
  readonly scale: PackedTensor | null;
  readonly prepared: PreparedFilter | null;
}

export interface WeightPlacement {
  /** Per step, in step order (null for steps without weights). */
  readonly steps: readonly (PlacedStepWeights | null)[];
  /** Every packed tensor in payload order: weight, then scales, then bias, step by step. */
  readonly tensors: readonly PackedTensor[];
  readonly payloadBytes: number;
  readonly preparedBase: number;
  readonly preparedBytes: number;
}

/**
 * Lays the chosen tensors out back to back (each aligned to TENSOR_ALIGN) in step order, the payload
 * at `weightsBase` in wasm memory, and the prepared tensors after it. `prepareName(index, spec)` names
 * the exported prepare function of step `index`.
 */
export function placeWeights(choices: readonly (StepWeightChoice | null)[], weightsBase: number, prepareName: (index: number, spec: KernelSpec) => string): WeightPlacement {
  const tensors: PackedTensor[] = [];
  let payload = 0;
  const pack = (c: WeightChoice): PackedTensor => {
    const t = { param: c.param, layout: c.layout, offset: payload, byteLength: packedByteLength(c.param, c.layout), address: weightsBase + payload };
    payload = roundUp(payload + t.byteLength, TENSOR_ALIGN);
    tensors.push(t);
    return t;
  };
  const packed = choices.map((c) => (c ? { weight: pack(c.weight), scale: c.scale ? pack(c.scale) : null, bias: pack(c.bias) } : null));
  // Prepared tensors go after the payload, whose size is known only now.
  const preparedBase = roundUp(weightsBase + payload, TENSOR_ALIGN);
  let preparedBytes = 0;
  const steps = choices.map((c, index): PlacedStepWeights | null => {
    const p = packed[index];
    if (!c || !p) return null;
    if (!c.prepared) return { ...p, prepared: null };
    const bytes = packedByteLength(c.weight.param, c.prepared.layout);
    const prepared = { address: preparedBase + preparedBytes, bytes, exportName: prepareName(index, c.prepared.spec), spec: c.prepared.spec, kernel: kernelName(c.prepared.spec), workItems: c.prepared.workItems };
    preparedBytes = roundUp(preparedBytes + bytes, TENSOR_ALIGN);
    return { ...p, prepared };
  });
  return { steps, tensors, payloadBytes: payload, preparedBase, preparedBytes };
}
