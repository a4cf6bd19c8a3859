/**
 * Stage 2: VggConfig → LayerGraph, the network as PyTorch runs it: one op per torch module
 * (Conv2d, ReLU, MaxPool2d, AdaptiveAvgPool2d, flatten, Linear; Dropout is identity at inference
 * and does not appear) with every shape resolved, and the list of parameter tensors under
 * torchvision's key names.
 */
import type { VggConfig } from '../frontend/config/config.js';

/** A feature map, channels × height × width (batch excluded). */
export interface MapShape {
  readonly c: number;
  readonly h: number;
  readonly w: number;
}

export interface BatchNormOp {
  readonly kind: 'batchnorm2d';
  /** `bn{block}_{index}`, after the convolution it normalises. */
  readonly id: string;
  readonly channels: number;
  readonly shape: MapShape;
  readonly weight: ParamTensor;
  readonly bias: ParamTensor;
  readonly runningMean: ParamTensor;
  readonly runningVar: ParamTensor;
  /** torch.nn.BatchNorm2d's default. */
  readonly eps: number;
}
export interface Conv3x3Op {
  readonly kind: 'conv3x3';
  /** `conv{block}_{index}`, both 1-based as in the VGG paper (conv1_1 … conv5_3). */
  readonly id: string;
  readonly input: MapShape;
  readonly output: MapShape;
  readonly weight: ParamTensor;
  readonly bias: ParamTensor;
}
export interface ReluOp {
  readonly kind: 'relu';
  readonly id: string;
  readonly shape: MapShape | { readonly features: number };
}
export interface MaxPoolOp {
  readonly kind: 'maxpool2x2';
  readonly id: string;
  readonly input: MapShape;
  readonly output: MapShape;
}
/** torchvision's AdaptiveAvgPool2d (`avgpool`), or an adaptive max pool (`maxpool`; Keras's GlobalMaxPooling2D). */
export interface AdaptivePoolOp {
  readonly kind: 'adaptivePool';
  readonly mode: 'avg' | 'max';
  readonly id: string;
  readonly input: MapShape;
  readonly output: MapShape;
}
export interface FlattenOp {
  readonly kind: 'flatten';
  readonly id: string;
  readonly input: MapShape;
  readonly features: number;
}
export interface LinearOp {
  readonly kind: 'linear';
  /** `fc{k}`, 1-based. */
  readonly id: string;
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly weight: ParamTensor;
  readonly bias: ParamTensor;
}
/** What the model applies to its last layer's output: softmax over the classes, or a sigmoid per class. */
export interface OutputActivationOp {
  readonly kind: 'outputActivation';
  readonly fn: 'softmax' | 'sigmoid';
  readonly id: string;
  readonly features: number;
}
export type Op = Conv3x3Op | BatchNormOp | ReluOp | MaxPoolOp | AdaptivePoolOp | FlattenOp | LinearOp | OutputActivationOp;

/** How torchvision initialises a parameter (used for seeded random weights). */
export type ParamInit = 'kaiming-normal-fan-out-relu' | 'normal-0.01' | 'zeros' | 'ones';

/** torch.nn.BatchNorm2d's default ε (the config's batchNormEps defaults to it). */
export const BATCHNORM_EPS = 1e-5;

export interface ParamTensor {
  /** torchvision's state_dict key, e.g. `features.3.weight`, `classifier.6.bias`. */
  readonly key: string;
  /** The seed notebook's key for the same tensor, e.g. `conv_backbone.features.1.conv_block.0.weight`. */
  readonly notebookKey: string;
  readonly shape: readonly number[];
  readonly init: ParamInit;
  /** A buffer (BatchNorm running statistics), not a trainable parameter: not counted in totals. */
  readonly buffer?: boolean;
}

export interface LayerGraph {
  readonly config: VggConfig;
  readonly input: MapShape;
  readonly ops: readonly Op[];
  readonly params: readonly ParamTensor[];
  /** state_dict keys that may appear in a weights file and carry nothing vggc needs (BatchNorm's num_batches_tracked). */
  readonly ignoredKeys: readonly string[];
  readonly numClasses: number;
}

export function buildGraph(config: VggConfig): LayerGraph {
  const ops: Op[] = [];
  const params: ParamTensor[] = [];
  const ignoredKeys: string[] = [];
  const bn = config.batchNorm;
  // torchvision's make_layers: Conv2d, [BatchNorm2d,] ReLU per convolution, MaxPool2d per block.
  const perConv = bn ? 3 : 2;
  const input: MapShape = { c: config.blocks[0][0], h: config.inputSize[0], w: config.inputSize[1] };
  let map = input;
  let featureIndex = 0;
  config.blocks.forEach(([, numConv, features], b) => {
    for (let j = 0; j < numConv; j++) {
      const out: MapShape = { c: features, h: map.h, w: map.w };
      const key = `features.${featureIndex}`;
      const nbKey = `conv_backbone.features.${b}.conv_block.${perConv * j}`;
      const weight: ParamTensor = { key: `${key}.weight`, notebookKey: `${nbKey}.weight`, shape: [features, map.c, 3, 3], init: 'kaiming-normal-fan-out-relu' };
      const bias: ParamTensor = { key: `${key}.bias`, notebookKey: `${nbKey}.bias`, shape: [features], init: 'zeros' };
      params.push(weight, bias);
      const id = `conv${b + 1}_${j + 1}`;
      ops.push({ kind: 'conv3x3', id, input: map, output: out, weight, bias });
      if (bn) {
        const bnKey = `features.${featureIndex + 1}`;
        const bnNb = `conv_backbone.features.${b}.conv_block.${perConv * j + 1}`;
        const t = (name: string, init: ParamInit, buffer = false): ParamTensor => ({ key: `${bnKey}.${name}`, notebookKey: `${bnNb}.${name}`, shape: [features], init, buffer });
        const op: BatchNormOp = { kind: 'batchnorm2d', id: `bn${b + 1}_${j + 1}`, channels: features, shape: out, weight: t('weight', 'ones'), bias: t('bias', 'zeros'), runningMean: t('running_mean', 'zeros', true), runningVar: t('running_var', 'ones', true), eps: config.batchNormEps };
        params.push(op.weight, op.bias, op.runningMean, op.runningVar);
        ignoredKeys.push(`${bnKey}.num_batches_tracked`, `${bnNb}.num_batches_tracked`);
        ops.push(op);
      }
      ops.push({ kind: 'relu', id: `relu${b + 1}_${j + 1}`, shape: out });
      map = out;
      featureIndex += perConv;
    }
    const pooled: MapShape = { c: map.c, h: Math.floor(map.h / 2), w: Math.floor(map.w / 2) };
    ops.push({ kind: 'maxpool2x2', id: `pool${b + 1}`, input: map, output: pooled });
    map = pooled;
    featureIndex += 1;
  });
  const pool = config.avgPool ? { mode: 'avg' as const, size: config.avgPool } : config.maxPool ? { mode: 'max' as const, size: config.maxPool } : null;
  if (pool) {
    const out: MapShape = { c: map.c, h: pool.size[0], w: pool.size[1] };
    ops.push({ kind: 'adaptivePool', mode: pool.mode, id: `${pool.mode}pool`, input: map, output: out });
    map = out;
  }
  let features = map.c * map.h * map.w;
  ops.push({ kind: 'flatten', id: 'flatten', input: map, features });
  // torchvision's classifier is Sequential(Linear, ReLU, Dropout, …, Linear): a layer with ReLU takes
  // three indices, one without takes one (classifier.0, .3, .6 for VGG; .0, .1 for Linear, Linear).
  const layers = [...config.classifier, { features: config.numClasses, relu: false }];
  let index = 0;
  layers.forEach((layer, k) => {
    const key = `classifier.${index}`;
    const outFeatures = layer.features;
    const weight: ParamTensor = { key: `${key}.weight`, notebookKey: `${key}.weight`, shape: [outFeatures, features], init: 'normal-0.01' };
    const bias: ParamTensor = { key: `${key}.bias`, notebookKey: `${key}.bias`, shape: [outFeatures], init: 'zeros' };
    params.push(weight, bias);
    ops.push({ kind: 'linear', id: `fc${k + 1}`, inFeatures: features, outFeatures, weight, bias });
    if (layer.relu) ops.push({ kind: 'relu', id: `relu_fc${k + 1}`, shape: { features: outFeatures } });
    index += layer.relu ? 3 : 1;
    features = outFeatures;
  });
  if (config.finalActivation !== 'none') ops.push({ kind: 'outputActivation', fn: config.finalActivation, id: config.finalActivation, features });
  return { config, input, ops, params, ignoredKeys, numClasses: config.numClasses };
}

/** Trainable parameters, as torchvision counts them (BatchNorm's running statistics excluded). */
export function paramCount(graph: LayerGraph): number {
  return graph.params.filter((p) => !p.buffer).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
}
