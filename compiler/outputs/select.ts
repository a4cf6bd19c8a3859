/**
 * The "named outputs" pass: LayerGraph + the outputs asked for → the graph cut after the last of
 * them, and each output as a tap (names.ts). Ops after the last output are dropped with their
 * parameters, so a backbone cut at relu4_3 neither computes nor packs the classifier. Without
 * outputs nothing is cut: the first output is the model's last tensor (`logits`, or `probabilities`
 * after a softmax or sigmoid head; what infer() returns), the second the vector its last Linear
 * reads (`fc7`: the embedding `vggc embed` gives for a classifier).
 */
import type { LayerGraph, Op, ParamTensor } from '../graph/graph.js';
import { resolveOutputs, tapPoints, type ResolvedOutput } from './names.js';

export interface OutputSelection {
  /** The graph up to the last output. */
  readonly graph: LayerGraph;
  readonly outputs: readonly ResolvedOutput[];
  /** Keys of the parameters the cut dropped: a checkpoint may hold them, nothing reads them. */
  readonly droppedKeys: readonly string[];
}

export function selectOutputs(graph: LayerGraph, requested: readonly string[] | null, aliases: ReadonlyMap<string, string>, label: string): OutputSelection {
  if (!requested) {
    const { taps } = tapPoints(graph, aliases);
    const last = taps.at(-1)!;
    // The vector the last Linear reads (fc7 for a VGG): what `vggc embed` returns for a classifier.
    const lastLinear = graph.ops.map((op) => op.kind).lastIndexOf('linear');
    const penultimate = [...taps].reverse().find((t) => t.op < lastLinear && t.shape.kind === 'vector');
    const outputs = [{ name: last.canonical, tap: last }, ...(penultimate ? [{ name: penultimate.canonical, tap: penultimate }] : [])];
    return { graph, outputs, droppedKeys: [] };
  }
  const outputs = resolveOutputs(graph, requested, aliases, label);
  const lastOp = Math.max(...outputs.map((o) => o.tap.op));
  const ops = graph.ops.slice(0, lastOp + 1);
  const kept = new Set(ops.flatMap(paramsOf).map((p) => p.key));
  const params = graph.params.filter((p) => kept.has(p.key));
  const dropped = graph.params.filter((p) => !kept.has(p.key));
  const droppedKeys = dropped.flatMap((p) => [p.key, p.notebookKey]);
  return { graph: { ...graph, ops, params, ignoredKeys: [...graph.ignoredKeys, ...droppedKeys] }, outputs, droppedKeys };
}

function paramsOf(op: Op): ParamTensor[] {
  switch (op.kind) {
    case 'conv3x3':
    case 'linear':
      return [op.weight, op.bias];
    case 'batchnorm2d':
      return [op.weight, op.bias, op.runningMean, op.runningVar];
    default:
      return [];
  }
}
