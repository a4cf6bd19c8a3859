/**
 * Stage 5: Schedule → Program (program.ts), the one value everything after the passes reads.
 * Activations are planned first (activations.ts: one static arena, tensors placed by lifetime), then
 * the weights after the arena (weights.ts: layout choice, then placement), then the memory map
 * (memory.ts) is checked against WebAssembly's 4 GiB.
 */
import type { Program, ProgramStep } from '../program.js';
import { kernelName, type KernelSpec } from '../program.js';
import type { Schedule, ScheduledStep } from '../schedule/schedule.js';
import { MAX_BATCH, MAX_WORKERS } from '../schedule/schedule.js';
import { RUN_PARAMS_ADDRESS } from '../../runtime/format/run-params.js';
import { ARENA_BASE, planActivations } from './activations.js';
import { memoryPages, weightsBaseAfter } from './memory.js';
import { placeWeights, weightsOf } from './weights.js';
import { outputSteps } from './outputs.js';

export function planProgram(sched: Schedule, label: string): Program {
  const graph = sched.fused.graph;
  const outputs = outputSteps(sched.steps, sched.fused.outputs);
  const activations = planActivations(sched.steps, graph.input, outputs);
  const { tensors } = activations;
  const weightsBase = weightsBaseAfter(activations.arenaBytes);
  const placed = placeWeights(sched.steps.map((s) => weightsOf(s, sched.weightsDtype)), weightsBase, (index, spec) => prepareName(index, sched.steps[index], spec));
  const pages = memoryPages({ arenaBytes: activations.arenaBytes, payloadBytes: placed.payloadBytes, preparedBase: placed.preparedBase, preparedBytes: placed.preparedBytes }, label);
  const steps = sched.steps.map((schedule, index): ProgramStep => {
    const kernel = kernelName(schedule.spec);
    const common = { index, exportName: exportName(index, schedule, kernel), kernel, input: tensors[index], output: tensors[index + 1] };
    const w = placed.steps[index];
    switch (schedule.kind) {
      case 'pack-input':
        return { ...common, kind: schedule.kind, schedule };
      case 'pool-flatten':
        return { ...common, kind: schedule.kind, schedule };
      case 'output-activation':
      case 'map-activation':
      case 'vector-relu':
        return { ...common, kind: schedule.kind, schedule } as ProgramStep;
      case 'conv-direct':
        return { ...common, kind: schedule.kind, schedule, weight: w!.weight, bias: w!.bias };
      case 'conv-winograd':
        return { ...common, kind: schedule.kind, schedule, weight: w!.weight, bias: w!.bias, scale: w!.scale, prepared: w!.prepared, scratch: activations.scratch.get(index)! };
      case 'linear':
        return { ...common, kind: schedule.kind, schedule, weight: w!.weight, bias: w!.bias, scale: w!.scale };
    }
  });
  return {
    graph,
    variant: sched.variant,
    weightsDtype: sched.weightsDtype,
    steps,
    tensors,
    memory: {
      arenaBase: ARENA_BASE, arenaBytes: activations.arenaBytes, peakLiveBytes: activations.peakLiveBytes, weightsBase,
      preparedBase: placed.preparedBase, preparedBytes: placed.preparedBytes, pages, params: RUN_PARAMS_ADDRESS, maxWorkers: MAX_WORKERS,
    },
    weights: { payloadBytes: placed.payloadBytes, tensors: placed.tensors },
    splits: sched.fused.splits,
    input: tensors[0],
    outputs: outputs.map((o) => {
      const t = o.output.tap;
      return { name: o.output.name, canonical: t.canonical, step: o.step, phase: sched.steps[o.step].phase, tensor: tensors[o.step + 1],
        shape: t.shape.kind === 'map' ? [t.shape.map.c, t.shape.map.h, t.shape.map.w] : [t.shape.features],
        ...(t.shape.kind === 'vector' && t.shape.flattened ? { flattened: [t.shape.flattened.c, t.shape.flattened.h, t.shape.flattened.w] } : {}),
      };
    }),
    maxBatch: MAX_BATCH,
  };
}

/** `conv2_1_pool2` for a convolution with its block's pool fused, else the layer's own id. */
function stepId(s: ScheduledStep): string {
  switch (s.kind) {
    case 'pack-input':
      return 'input';
    case 'conv-direct':
    case 'conv-winograd':
      return s.layer.pool ? `${s.layer.conv.id}_${s.layer.conv.id.replace(/^conv(\d+)_\d+$/, 'pool$1')}` : s.layer.conv.id;
    case 'pool-flatten':
      return s.layer.pool ? `${s.layer.pool.id}_flatten` : 'flatten';
    case 'linear':
      return s.layer.linear.id;
    case 'output-activation':
      return s.layer.activation.id;
    case 'map-activation':
    case 'vector-relu':
      return s.layer.id;
  }
}

const pad2 = (n: number): string => String(n).padStart(2, '0');
const identifier = (kernel: string): string => kernel.replace(/-/g, '_');

function exportName(index: number, s: ScheduledStep, kernel: string): string {
  return `layer${pad2(index)}_${stepId(s)}_${identifier(kernel)}`;
}

function prepareName(index: number, s: ScheduledStep, spec: KernelSpec): string {
  return `prepare${pad2(index)}_${stepId(s).replace(/_pool\d+$/, '')}_${identifier(kernelName(spec))}`;
}
