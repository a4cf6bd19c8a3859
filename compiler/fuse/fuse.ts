/**
 * Stage 3: LayerGraph → FusedGraph. This is where fusion is decided.
 * - Conv2d + BatchNorm2d    → folded: the weights stage scales the filters and shifts the bias
 *                             (eval-mode statistics), so the generated code has no BatchNorm at all.
 * - Conv2d + ReLU           → one conv step (bias and ReLU applied in registers).
 * - Conv2d + ReLU + MaxPool → one conv step that pools its own 2×2 output tiles, so the full-size
 *                             pre-pool activation is never written to memory.
 * - Adaptive avg/max pool + flatten → one step that writes the classifier's input vector.
 * - Linear (+ ReLU)         → one step.
 * - softmax / sigmoid       → one step after the last Linear (it needs the whole vector: max and sum).
 */
import type { AdaptivePoolOp, BatchNormOp, Conv3x3Op, LayerGraph, LinearOp, MapShape, Op, OutputActivationOp } from '../graph/graph.js';

/** A 3×3 convolution with its bias and ReLU (every VGG convolution has both), and maybe its block's pool. */
export interface FusedConv {
  readonly kind: 'conv';
  readonly conv: Conv3x3Op;
  /** Folded into the convolution's weights and bias when they are packed. */
  readonly batchNorm: BatchNormOp | null;
  /** Whether the block's 2×2 max-pool is fused into this convolution. */
  readonly pool: boolean;
  /** Shape this step writes (pooled when `pool`). */
  readonly output: MapShape;
}
export interface FusedPoolFlatten {
  readonly kind: 'pool-flatten';
  readonly input: MapShape;
  /** The adaptive average or max pool, or null when the map is flattened as it is. */
  readonly pool: AdaptivePoolOp | null;
  /** Shape that is flattened (NCHW order, as torch.flatten does). */
  readonly flattened: MapShape;
  readonly features: number;
}
export interface FusedLinear {
  readonly kind: 'linear';
  readonly linear: LinearOp;
  readonly relu: boolean;
}
export interface FusedOutputActivation {
  readonly kind: 'output-activation';
  readonly activation: OutputActivationOp;
}
export type FusedStep = FusedConv | FusedPoolFlatten | FusedLinear | FusedOutputActivation;

export interface FusedGraph {
  readonly graph: LayerGraph;
  readonly steps: readonly FusedStep[];
}

export function fuse(graph: LayerGraph): FusedGraph {
  const ops = graph.ops;
  const steps: FusedStep[] = [];
  let i = 0;
  const at = (k: number): Op | undefined => ops[k];
  while (i < ops.length) {
    const op = ops[i];
    if (op.kind === 'conv3x3') {
      const bnOp = at(i + 1);
      const batchNorm = bnOp?.kind === 'batchnorm2d' ? bnOp : null;
      const j = batchNorm ? i + 1 : i;
      if (at(j + 1)?.kind !== 'relu') throw new Error(`fuse: ${op.id} is not followed by ReLU`);
      const next = at(j + 2);
      const pool = next?.kind === 'maxpool2x2';
      steps.push({ kind: 'conv', conv: op, batchNorm, pool, output: pool ? next.output : op.output });
      i = j + (pool ? 3 : 2);
    } else if (op.kind === 'adaptivePool' || op.kind === 'flatten') {
      const pool = op.kind === 'adaptivePool' ? op : null;
      const flatten = pool ? at(i + 1) : op;
      if (flatten?.kind !== 'flatten') throw new Error('fuse: the adaptive pool is not followed by flatten');
      steps.push({ kind: 'pool-flatten', input: pool ? pool.input : flatten.input, pool, flattened: flatten.input, features: flatten.features });
      i += pool ? 2 : 1;
    } else if (op.kind === 'outputActivation') {
      steps.push({ kind: 'output-activation', activation: op });
      i += 1;
    } else if (op.kind === 'linear') {
      const relu = at(i + 1)?.kind === 'relu';
      steps.push({ kind: 'linear', linear: op, relu });
      i += relu ? 2 : 1;
    } else {
      throw new Error(`fuse: unexpected ${op.kind} (${op.id}) — the graph builder and the fuser disagree`);
    }
  }
  return { graph, steps };
}
