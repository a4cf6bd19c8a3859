/**
 * `vggc summary`: the seed notebook's torchsummary table (each module's output shape and parameter
 * count, numbered the same way), plus multiply-adds, totals, the fused steps with their kernels, and
 * the memory plan.
 */
import type { LayerGraph, Op } from '../graph/graph.js';
import { paramCount } from '../graph/graph.js';
import { describeStep, type Program } from '../program.js';
import { grouped } from '../codegen/text.js';
import type { WeightsDtype } from '../weights/layout.js';
import { WASM_PAGE_BYTES } from '../plan/memory.js';
import { tapPoints } from '../outputs/names.js';
import { describeRowTiles, describeStream } from '../schedule/winograd-plan.js';

const MB = 1e6;

/**
 * `weightsFileBytes`: the size weights.bin would have with each --weights-dtype (the plan's own
 * dtype is marked), so users can pick one before compiling.
 */
export function renderSummary(plan: Program, weightsFileBytes?: Partial<Record<WeightsDtype, number>>, layerNames: ReadonlyMap<string, string> = new Map()): string {
  const graph = plan.graph;
  const { config, input } = graph;
  const line = '-'.repeat(SUMMARY_WIDTH);
  const out: string[] = [];
  const head = plan.outputs.some((o) => o.canonical === 'logits' || o.canonical === 'probabilities');
  const cutAfter = plan.outputs.reduce((last, o) => (o.step > last.step ? o : last)).canonical;
  out.push(`${config.name}: input ${input.c}×${input.h}×${input.w} → ${head ? `${graph.numClasses} classes` : `outputs ${plan.outputs.map((o) => o.name).join(', ')} (cut after ${cutAfter}: the layers after it are not compiled)`}`);
  out.push(...layerTable(graph));
  out.push(line);
  out.push(`Compiled steps (${plan.variant} kernels; fusion and tiling decided by vggc):`);
  for (const s of plan.steps) {
    const blocks = s.schedule.kind === 'conv-winograd' ? `, ${s.schedule.winograd.blocks} block(s) of ${s.schedule.winograd.tileRowsPerBlock} tile row(s), GEMM tiles ${s.schedule.winograd.rowTiles.map(describeRowTiles).join(', ')}${describeStream(s.schedule.winograd)}` : '';
    const m = s.schedule.macs ? `${(s.schedule.macs / 1e6).toFixed(1)} M MACs${blocks}` : '';
    out.push(stepLine(s.index, describeStep(s), s.kernel, m));
  }
  for (const s of plan.splits) out.push(`  fusion split: ${s}`);
  out.push(line);
  out.push(`Outputs (--outputs takes any name in a row; a backbone is cut after the last one):`);
  const outputNames = new Map(plan.outputs.map((o) => [o.canonical, o.name]));
  for (const t of tapPoints(graph, layerNames).taps) {
    const shape = t.shape.kind === 'map' ? `[${t.shape.map.c}, ${t.shape.map.h}, ${t.shape.map.w}]` : `[${t.shape.features}]`;
    const asked = outputNames.get(t.canonical);
    out.push(`  ${t.canonical.padEnd(14)} ${shape.padEnd(18)} ${t.names.slice(1).join(', ')}${asked !== undefined ? `  ← output ${JSON.stringify(asked)}` : ''}`);
  }
  out.push(line);
  out.push(`Memory plan (static, fixed at compile time):`);
  const mem = plan.memory;
  out.push(`  activation arena: ${(mem.arenaBytes / MB).toFixed(2)} MB (largest pair of live tensors ${(mem.peakLiveBytes / MB).toFixed(2)} MB); the pre-pool maps of fused layers are never stored`);
  out.push(`  weights:          ${(plan.weights.payloadBytes / MB).toFixed(2)} MB (packed in kernel order, ${plan.weightsDtype})`);
  if (mem.preparedBytes) out.push(`  prepared at load: ${(mem.preparedBytes / MB).toFixed(2)} MB (f32 Winograd filters computed from the ${plan.weightsDtype} 3×3 filters)`);
  out.push(`  wasm memory:      ${grouped(mem.pages)} pages = ${((mem.pages * WASM_PAGE_BYTES) / MB).toFixed(2)} MB`);
  if (weightsFileBytes) {
    out.push(line);
    out.push(`Artifacts: weight files (all shards) by --weights-dtype (model.wasm is tens of KB; \`vggc compile\` prints its size)`);
    for (const [dtype, bytes] of Object.entries(weightsFileBytes)) {
      out.push(`  ${dtype.padEnd(5)} ${(bytes / MB).toFixed(2).padStart(10)} MB${dtype === plan.weightsDtype ? '  ← this plan' : ''}`);
    }
  }
  return out.join('\n');
}

/** Width of the summary's rules and of its layer table. */
export const SUMMARY_WIDTH = 86;

/**
 * The torchsummary-style table of a network's modules (numbered as the seed notebook's table is:
 * `Conv2d-1`, `ReLU-2`, …) with output shapes, parameters and multiply-adds, and its totals. Both
 * summaries print it: of a model file (renderSummary) and of a compiled folder (compiled.ts).
 */
export function layerTable(graph: LayerGraph): string[] {
  const rows: Array<[string, string, number, number]> = [];
  let n = 0;
  const add = (type: string, shape: number[], params: number, macs: number): void => {
    rows.push([`${type}-${++n}`, `[-1, ${shape.join(', ')}]`, params, macs]);
  };
  for (const op of graph.ops) addOp(op, add);
  const out = ['-'.repeat(SUMMARY_WIDTH), `${'Layer (type)'.padStart(25)}  ${'Output Shape'.padStart(25)}  ${'Param #'.padStart(15)}  ${'MACs'.padStart(15)}`, '='.repeat(SUMMARY_WIDTH)];
  for (const [name, shape, params, macs] of rows) {
    out.push(`${name.padStart(25)}  ${shape.padStart(25)}  ${grouped(params).padStart(15)}  ${(macs ? grouped(macs) : '').padStart(15)}`);
  }
  out.push('='.repeat(SUMMARY_WIDTH));
  const total = paramCount(graph);
  const macs = rows.reduce((s, r) => s + r[3], 0);
  out.push(`Total params: ${grouped(total)}`);
  out.push(`Trainable params: ${grouped(total)}`);
  out.push(`Non-trainable params: 0`);
  out.push(`Multiply-adds: ${grouped(macs)} (${(macs / 1e9).toFixed(2)} G per image)`);
  return out;
}

/** One compiled step: its index, what it computes, its kernel, then any detail (multiply-adds, tiling). */
export function stepLine(index: number, description: string, kernel: string, detail: string): string {
  return `  ${String(index).padStart(2)}  ${description.padEnd(44)} ${kernel.padEnd(58)} ${detail}`.trimEnd();
}

function addOp(op: Op, add: (type: string, shape: number[], params: number, macs: number) => void): void {
  switch (op.kind) {
    case 'conv3x3': {
      const { input: i, output: o } = op;
      add('Conv2d', [o.c, o.h, o.w], o.c * i.c * 9 + o.c, o.c * o.h * o.w * i.c * 9);
      return;
    }
    case 'batchnorm2d':
      add('BatchNorm2d', [op.shape.c, op.shape.h, op.shape.w], 2 * op.channels, 0);
      return;
    case 'relu':
      add('ReLU', 'c' in op.shape ? [op.shape.c, op.shape.h, op.shape.w] : [op.shape.features], 0, 0);
      if (!('c' in op.shape)) add('Dropout', [op.shape.features], 0, 0);
      return;
    case 'maxpool2x2':
      add('MaxPool2d', [op.output.c, op.output.h, op.output.w], 0, 0);
      return;
    case 'adaptivePool':
      add(op.mode === 'avg' ? 'AdaptiveAvgPool2d' : 'AdaptiveMaxPool2d', [op.output.c, op.output.h, op.output.w], 0, 0);
      return;
    case 'outputActivation':
      add(op.fn === 'softmax' ? 'Softmax' : 'Sigmoid', [op.features], 0, 0);
      return;
    case 'flatten':
      return; // torch.flatten is a function, not a module: torchsummary shows no row for it
    case 'linear':
      add('Linear', [op.outFeatures], op.outFeatures * op.inFeatures + op.outFeatures, op.outFeatures * op.inFeatures);
      return;
  }
}
