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
 *
 * A named output (outputs/) that a fused step would never store splits the chain there, and only
 * there (`splits` says which, and why, for vggc summary):
 * - a tap before ReLU (convB_J, fc6_pre): the conv or Linear without its ReLU, then a ReLU step
 *   (with the block's pool, when it has one and the post-ReLU map is not asked for);
 * - a tap on a block end's post-ReLU, pre-pool map (reluB_J): the conv with ReLU, then a pool step.
 *
 * One decision is revisited later: the scheduler takes a fused pool off a conv when an odd Winograd
 * tile, which cannot pool its own tiles, is cheaper with a pool step after it (schedule/schedule.ts,
 * scheduleWinogradSteps; VGG-11's conv5_2).
 */
import type { AdaptivePoolOp, BatchNormOp, Conv3x3Op, LayerGraph, LinearOp, MapShape, Op, OutputActivationOp } from '../graph/graph.js';
import type { ResolvedOutput } from '../outputs/names.js';
import { selectOutputs } from '../outputs/select.js';

interface Fused {
  /** The graph ops whose output is the tensor this step writes (a tap on any of them reads it). */
  readonly ops: readonly number[];
}
/** A 3×3 convolution with its bias, its ReLU unless a tap needs the value before it, and maybe its block's pool. */
export interface FusedConv extends Fused {
  readonly kind: 'conv';
  readonly conv: Conv3x3Op;
  /** Folded into the convolution's weights and bias when they are packed. */
  readonly batchNorm: BatchNormOp | null;
  readonly relu: boolean;
  /** Whether the block's 2×2 max-pool is fused into this convolution (only with its ReLU). */
  readonly pool: boolean;
  /** Shape this step writes (pooled when `pool`). */
  readonly output: MapShape;
}
/** ReLU and/or the 2×2 max-pool over a stored map: what a split conv chain still has to do. */
export interface FusedMapActivation extends Fused {
  readonly kind: 'map-activation';
  /** For names and messages: the op it finishes (relu4_3, pool4). */
  readonly id: string;
  readonly input: MapShape;
  readonly relu: boolean;
  readonly pool: boolean;
  readonly output: MapShape;
}
export interface FusedPoolFlatten extends Fused {
  readonly kind: 'pool-flatten';
  readonly input: MapShape;
  /** The adaptive average or max pool, or null when the map is flattened as it is. */
  readonly pool: AdaptivePoolOp | null;
  /** Shape that is flattened (NCHW order, as torch.flatten does). */
  readonly flattened: MapShape;
  readonly features: number;
}
export interface FusedLinear extends Fused {
  readonly kind: 'linear';
  readonly linear: LinearOp;
  readonly relu: boolean;
}
/** A hidden Linear's ReLU on its own, when its pre-ReLU output is asked for. */
export interface FusedVectorRelu extends Fused {
  readonly kind: 'vector-relu';
  readonly id: string;
  readonly features: number;
}
export interface FusedOutputActivation extends Fused {
  readonly kind: 'output-activation';
  readonly activation: OutputActivationOp;
}
export type FusedStep = FusedConv | FusedMapActivation | FusedPoolFlatten | FusedLinear | FusedVectorRelu | FusedOutputActivation;

export interface FusedGraph {
  readonly graph: LayerGraph;
  readonly steps: readonly FusedStep[];
  /** The named outputs (outputs/select.ts), in the order asked: what the planner keeps and the runtime returns. */
  readonly outputs: readonly ResolvedOutput[];
  /** Where a named output split a fusion, for vggc summary: `conv4_3: max-pool not fused (relu4_3 is an output)`. */
  readonly splits: readonly string[];
}

/** `outputs`: the named outputs; without them, the graph's last tensor (its logits or probabilities). */
export function fuse(graph: LayerGraph, outputs?: readonly ResolvedOutput[]): FusedGraph {
  const ops = graph.ops;
  const named = outputs ?? selectOutputs(graph, null, new Map(), graph.config.name).outputs;
  const taps = new Set(named.map((o) => o.tap.op));
  const steps: FusedStep[] = [];
  const splits: string[] = [];
  const at = (k: number): Op | undefined => ops[k];
  const name = (k: number): string => ops[k]?.id ?? '?';
  let i = 0;
  while (i < ops.length) {
    const op = ops[i];
    if (op.kind === 'conv3x3') {
      const bnOp = at(i + 1);
      const batchNorm = bnOp?.kind === 'batchnorm2d' ? bnOp : null;
      const pre = batchNorm ? i + 1 : i; // the op whose output is the pre-ReLU map
      const reluAt = at(pre + 1)?.kind === 'relu' ? pre + 1 : -1;
      const poolAt = reluAt >= 0 && at(reluAt + 1)?.kind === 'maxpool2x2' ? reluAt + 1 : -1;
      const poolOp = poolAt >= 0 ? (at(poolAt) as Extract<Op, { kind: 'maxpool2x2' }>) : null;
      if (reluAt < 0 && pre + 1 < ops.length) throw new Error(`fuse: ${op.id} is followed by ${at(pre + 1)?.kind}, not ReLU`);
      const unpooled = op.output;
      const tapPre = reluAt < 0 || taps.has(pre);
      const tapRelu = reluAt >= 0 && taps.has(reluAt);
      if (!tapPre) {
        const fusePool = poolOp !== null && !tapRelu;
        steps.push({ kind: 'conv', conv: op, batchNorm, relu: true, pool: fusePool, output: fusePool ? poolOp.output : unpooled, ops: [fusePool ? poolAt : reluAt] });
        if (poolOp && !fusePool) {
          splits.push(`${op.id}: max-pool not fused (${name(reluAt)} is an output)`);
          steps.push({ kind: 'map-activation', id: poolOp.id, input: unpooled, relu: false, pool: true, output: poolOp.output, ops: [poolAt] });
        }
        i = (poolAt >= 0 ? poolAt : reluAt) + 1;
        continue;
      }
      steps.push({ kind: 'conv', conv: op, batchNorm, relu: false, pool: false, output: unpooled, ops: [pre] });
      if (reluAt < 0) {
        i = pre + 1;
        continue;
      }
      splits.push(`${op.id}: ReLU${poolOp ? ' and max-pool' : ''} not fused (${name(pre).replace(/^bn/, 'conv')} is an output)`);
      const fusePool = poolOp !== null && !tapRelu;
      steps.push({ kind: 'map-activation', id: fusePool ? poolOp.id : name(reluAt), input: unpooled, relu: true, pool: fusePool, output: fusePool ? poolOp.output : unpooled, ops: [fusePool ? poolAt : reluAt] });
      if (poolOp && !fusePool) steps.push({ kind: 'map-activation', id: poolOp.id, input: unpooled, relu: false, pool: true, output: poolOp.output, ops: [poolAt] });
      i = (poolAt >= 0 ? poolAt : reluAt) + 1;
    } else if (op.kind === 'adaptivePool' || op.kind === 'flatten') {
      const pool = op.kind === 'adaptivePool' ? op : null;
      const next = at(i + 1);
      const flattenAt = pool ? (next?.kind === 'flatten' ? i + 1 : -1) : i;
      if (pool && flattenAt < 0 && i + 1 < ops.length) throw new Error('fuse: the adaptive pool is not followed by flatten');
      // The flattened vector is the pooled map in NCHW order: a tap on either reads it.
      const flattened = pool ? pool.output : (op as Extract<Op, { kind: 'flatten' }>).input;
      const features = flattened.c * flattened.h * flattened.w;
      steps.push({ kind: 'pool-flatten', input: pool ? pool.input : flattened, pool, flattened, features, ops: flattenAt >= 0 && pool ? [i, flattenAt] : [i] });
      i = Math.max(i, flattenAt) + 1;
    } else if (op.kind === 'linear') {
      const reluAt = at(i + 1)?.kind === 'relu' ? i + 1 : -1;
      if (reluAt >= 0 && taps.has(i)) {
        splits.push(`${op.id}: ReLU not fused (its pre-ReLU output is an output)`);
        steps.push({ kind: 'linear', linear: op, relu: false, ops: [i] });
        steps.push({ kind: 'vector-relu', id: name(reluAt), features: op.outFeatures, ops: [reluAt] });
      } else {
        steps.push({ kind: 'linear', linear: op, relu: reluAt >= 0, ops: [reluAt >= 0 ? reluAt : i] });
      }
      i = (reluAt >= 0 ? reluAt : i) + 1;
    } else if (op.kind === 'outputActivation') {
      steps.push({ kind: 'output-activation', activation: op, ops: [i] });
      i += 1;
    } else {
      throw new Error(`fuse: unexpected ${op.kind} (${op.id}) — the graph builder and the fuser disagree`);
    }
  }
  return { graph, steps, splits, outputs: named };
}
