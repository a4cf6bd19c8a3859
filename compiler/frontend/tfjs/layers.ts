/**
 * A Keras layer chain read as a VGG: blocks of 3×3 convolutions (each with ReLU, as the conv's own
 * activation or as Conv2D(linear) → [BatchNormalization] → ReLU) ending in a 2×2 max-pool; then
 * Flatten or a global pool; then Dense layers. Produces the network's structure and the vggc name of
 * every Keras layer; weights are bound to it in import.ts.
 */
import { VggcError } from '../../errors.js';
import { field, isObject, show } from './json-fields.js';
import { checkBatchNorm, checkConv, checkDense, checkHeadPool, checkMaxPool, isPlainRelu, layerError, LayerOptions } from './layer-options.js';
import type { KerasLayer } from './topology.js';

/** A layer as messages name it. */
export interface LayerRef {
  readonly name: string;
  readonly className: string;
}

const ref = (l: KerasLayer): LayerRef => ({ name: l.name, className: l.className });

export interface BatchNormSpec {
  readonly layer: LayerRef;
  readonly center: boolean;
  readonly scale: boolean;
  readonly eps: number;
}

export interface ConvSpec {
  readonly layer: LayerRef;
  /** null for the first convolution when no InputLayer says: its kernel's shape tells (import.ts). */
  readonly inChannels: number | null;
  readonly filters: number;
  readonly useBias: boolean;
  readonly batchNorm: BatchNormSpec | null;
}

export interface DenseSpec {
  readonly layer: LayerRef;
  readonly units: number;
  readonly useBias: boolean;
  readonly relu: boolean;
}

export interface VggSpec {
  /** [h, w] of the model's input, or null when it is not fixed (allowed before a global pool only). */
  readonly inputSize: readonly [number, number] | null;
  /** Input channels the InputLayer states, or null when it does not. */
  readonly inputChannels: number | null;
  /** Number of convolutions per block, in order. */
  readonly convsPerBlock: readonly number[];
  readonly convs: readonly ConvSpec[];
  /** The map Flatten sees ([h, w]; channels are the last conv's filters), or null for a global pool. */
  readonly flattenMap: readonly [number, number] | null;
  readonly headPool: { readonly kind: 'avg' | 'max'; readonly size: readonly [number, number] } | null;
  readonly denses: readonly DenseSpec[];
  readonly finalActivation: 'none' | 'softmax' | 'sigmoid';
  readonly layerNames: ReadonlyMap<string, string>;
}

/** Identity at inference. */
const IGNORED = new Set(['Dropout', 'SpatialDropout2D']);
const SUPPORTED = 'InputLayer, Conv2D, BatchNormalization, Activation, ReLU, MaxPooling2D, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D, Dense, Dropout';
const CONV_CLASSES = new Set(['Conv2D', 'Convolution2D']);
const BN_CLASSES = new Set(['BatchNormalization', 'BatchNormalizationV1', 'BatchNormalizationV2']);
const RELU_CLASSES = new Set(['Activation', 'ReLU']);
const HEAD_CLASSES = new Set(['Flatten', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D']);

export function readVgg(chain: readonly KerasLayer[], path: string): VggSpec {
  const known = new Set([...IGNORED, 'InputLayer', ...CONV_CLASSES, ...BN_CLASSES, ...RELU_CLASSES, 'MaxPooling2D', ...HEAD_CLASSES, 'Dense', 'Softmax']);
  for (const l of chain) {
    if (!known.has(l.className)) layerError(path, l, `vggc does not support this layer class; a VGG is built from ${SUPPORTED}`);
  }
  const layers = chain.filter((l) => !IGNORED.has(l.className));
  const opts = (l: KerasLayer) => new LayerOptions(path, l);
  const names = new Map<string, string>();
  let i = 0;
  const peek = (): KerasLayer | undefined => layers[i];

  // The input: an InputLayer, or (Sequential) the first layer's batch_input_shape.
  const first = layers[0];
  if (!first) throw modelError(path, 'the model has no layers');
  const shape = inputShape(first, path);
  if (first.className === 'InputLayer') i++;
  let map: readonly [number, number] | null = shape && shape[0] !== null && shape[1] !== null ? [shape[0], shape[1]] : null;
  if (shape && (shape[0] === null) !== (shape[1] === null)) layerError(path, first, `input shape ${show(shape)} fixes only one of height and width`);
  const inputSize = map;
  const inputChannels = shape?.[2] ?? null;

  // Features: blocks of convolutions, each block closed by a max-pool.
  const convs: ConvSpec[] = [];
  const convsPerBlock: number[] = [];
  let channels: number | null = inputChannels;
  let inBlock: ConvSpec[] = [];
  while (peek() && !HEAD_CLASSES.has(peek()!.className) && peek()!.className !== 'Dense') {
    const layer = layers[i++];
    const b = convsPerBlock.length + 1;
    if (CONV_CLASSES.has(layer.className)) {
      const o = opts(layer);
      const conv = checkConv(o);
      if (inBlock.length > 0 && conv.filters !== inBlock[0].filters) {
        o.fail(`filters ${conv.filters} differ from ${inBlock[0].filters} of ${show(inBlock[0].layer.name)}, the first convolution of block ${b}; vggc's blocks have one width`);
      }
      const j = inBlock.length + 1;
      let batchNorm: BatchNormSpec | null = null;
      if (conv.relu) {
        names.set(layer.name, `relu${b}_${j}`);
        const next = peek();
        if (next && BN_CLASSES.has(next.className)) {
          layerError(path, next, `follows ${show(layer.name)}, whose activation is 'relu'; vggc folds BatchNormalization into the convolution before the ReLU (Conv2D with activation 'linear', then BatchNormalization, then ReLU)`);
        }
      } else {
        let last = layer;
        if (peek() && BN_CLASSES.has(peek()!.className)) {
          const bnLayer = layers[i++];
          batchNorm = { layer: ref(bnLayer), ...checkBatchNorm(opts(bnLayer)) };
          names.set(bnLayer.name, `conv${b}_${j}`);
          last = bnLayer;
        } else {
          names.set(layer.name, `conv${b}_${j}`);
        }
        const relu = peek();
        if (!relu || !RELU_CLASSES.has(relu.className) || !isPlainRelu(opts(relu))) {
          layerError(path, last, `${last === layer ? "has activation 'linear' and is" : 'is'} not followed by ReLU (Activation('relu') or ReLU); vggc's convolutions end in ReLU`);
        }
        names.set(layers[i++].name, `relu${b}_${j}`);
      }
      const spec: ConvSpec = { layer: ref(layer), inChannels: channels, filters: conv.filters, useBias: conv.useBias, batchNorm };
      convs.push(spec);
      inBlock.push(spec);
      channels = conv.filters;
    } else if (layer.className === 'MaxPooling2D') {
      checkMaxPool(opts(layer));
      if (inBlock.length === 0) layerError(path, layer, `has no convolution before it in block ${b}; vggc's blocks are convolutions then one 2×2 max-pool`);
      if (map && (map[0] < 2 || map[1] < 2)) layerError(path, layer, `pools a ${map[0]}×${map[1]} map; a 2×2 pool needs at least 2×2`);
      if (map) map = [Math.floor(map[0] / 2), Math.floor(map[1] / 2)];
      names.set(layer.name, `pool${b}`);
      convsPerBlock.push(inBlock.length);
      inBlock = [];
    } else if (BN_CLASSES.has(layer.className) || RELU_CLASSES.has(layer.className)) {
      layerError(path, layer, 'is not right after a Conv2D with activation \'linear\' (or its BatchNormalization); vggc supports Conv2D(linear) → [BatchNormalization] → ReLU');
    } else {
      layerError(path, layer, `is not supported among the convolutional blocks; a VGG's features are Conv2D, BatchNormalization, ReLU and MaxPooling2D`);
    }
  }
  if (inBlock.length > 0) {
    const last = inBlock[inBlock.length - 1];
    layerError(path, layers.find((l) => l.name === last.layer.name)!, 'is not followed by a MaxPooling2D; every convolution belongs to a block that ends with a 2×2 max-pool');
  }
  if (convs.length === 0) throw modelError(path, 'the model has no Conv2D layers; vggc compiles VGGs (blocks of 3×3 convolutions and max-pools)');

  // Head: Flatten or a global pool, then Dense layers.
  const headLayer = peek();
  if (!headLayer) throw modelError(path, `the model ends after ${show(layers[layers.length - 1].name)} with no Dense layer; vggc compiles classifiers (Flatten or a global pool, then Dense layers)`);
  if (headLayer.className === 'Dense') {
    layerError(path, headLayer, 'sees the 4-D map of the last block; put Flatten, GlobalAveragePooling2D or GlobalMaxPooling2D before the first Dense');
  }
  i++;
  checkHeadPool(opts(headLayer));
  let headPool: VggSpec['headPool'] = null;
  let flattenMap: readonly [number, number] | null = null;
  if (headLayer.className === 'Flatten') {
    if (!map) layerError(path, headLayer, 'flattens a map whose size is not fixed; the InputLayer must give the input height and width');
    flattenMap = map;
    names.set(headLayer.name, 'flatten');
  } else {
    headPool = { kind: headLayer.className === 'GlobalMaxPooling2D' ? 'max' : 'avg', size: [1, 1] };
    names.set(headLayer.name, 'avgpool');
  }

  const denses: DenseSpec[] = [];
  let finalActivation: VggSpec['finalActivation'] = 'none';
  while (peek()) {
    const layer = layers[i++];
    const k = denses.length + 1;
    if (layer.className !== 'Dense') {
      const what = denses.length === 0 ? `after ${show(headLayer.name)}` : 'in the classifier';
      layerError(path, layer, `is not supported ${what}; the classifier is Dense layers (with ReLU between them, softmax or sigmoid at the end)`);
    }
    const dense = checkDense(opts(layer));
    const isLast = !layers.slice(i).some((l) => l.className === 'Dense');
    let relu = dense.activation === 'relu';
    if (isLast) {
      if (relu) layerError(path, layer, "is the last Dense layer and has activation 'relu'; vggc's last layer gives logits ('linear', 'softmax' or 'sigmoid')");
      finalActivation = dense.activation === 'softmax' ? 'softmax' : dense.activation === 'sigmoid' ? 'sigmoid' : 'none';
      // Keras's name is for what the layer outputs: a Dense(softmax) gives probabilities.
      names.set(layer.name, finalActivation === 'none' ? 'logits' : 'probabilities');
      const after = peek();
      if (after && finalActivation === 'none') {
        finalActivation = finalActivationLayer(opts(after));
        names.set(after.name, 'probabilities');
        i++;
      }
      if (peek()) layerError(path, peek()!, `comes after the last Dense layer ${show(layer.name)}; vggc's network ends there`);
    } else {
      if (dense.activation === 'softmax' || dense.activation === 'sigmoid') layerError(path, layer, `has activation '${dense.activation}' but is not the last Dense layer; vggc supports softmax and sigmoid on the last Dense only`);
      const next = peek();
      if (!relu && next && RELU_CLASSES.has(next.className) && isPlainRelu(opts(next))) {
        // Dense(linear) → ReLU: the ReLU layer's output is the post-activation fc6/fc7.
        relu = true;
        names.set(layer.name, `fc${k + 5}_pre`);
        names.set(next.name, `fc${k + 5}`);
        i++;
      } else {
        names.set(layer.name, `fc${k + 5}`);
      }
    }
    denses.push({ layer: ref(layer), units: dense.units, useBias: dense.useBias, relu });
  }
  if (denses.length === 0) {
    throw modelError(path, `the model ends after ${show(headLayer.name)} with no Dense layer; vggc compiles classifiers (Flatten or a global pool, then Dense layers)`);
  }
  return { inputSize, inputChannels, convsPerBlock, convs, flattenMap, headPool, denses, finalActivation, layerNames: names };
}

/** Activation('softmax' | 'sigmoid') or Softmax(axis -1) after a linear last Dense. */
function finalActivationLayer(o: LayerOptions): 'softmax' | 'sigmoid' {
  if (o.layer.className === 'Softmax') {
    // tfjs-layers' Softmax defaults to axis 1, Keras's to -1: the same axis of a [batch, classes] output.
    o.axis(-1, [-1, 1], 'the class axis (-1 or 1)');
    return 'softmax';
  }
  if (o.layer.className === 'Activation') {
    const a = o.activation();
    if (a === 'softmax' || a === 'sigmoid') return a;
  }
  return o.fail("comes after the last Dense layer; vggc supports only Activation('softmax'), Activation('sigmoid') or Softmax there");
}

/** [h, w, c] of the model's input (entries null when not fixed), or null when the layer does not say. */
function inputShape(first: KerasLayer, path: string): readonly [number | null, number | null, number | null] | null {
  const cfg = first.config;
  let shape = field(cfg, 'batch_input_shape') ?? field(cfg, 'batch_shape');
  if (shape === undefined || shape === null) {
    const plain = field(cfg, 'input_shape');
    if (Array.isArray(plain)) shape = [null, ...plain];
  }
  if (shape === undefined || shape === null) {
    if (first.className === 'InputLayer') layerError(path, first, 'has no batch_input_shape');
    return null;
  }
  if (!Array.isArray(shape) || shape.length !== 4) {
    return layerError(path, first, `input shape ${show(shape)}; vggc needs an image input [batch, height, width, channels]`);
  }
  const dims = shape.slice(1).map((d) => (d === null ? null : typeof d === 'number' && Number.isSafeInteger(d) && d > 0 ? d : layerError(path, first, `input shape ${show(shape)} has an invalid dimension ${show(d)}`)));
  if (isObject(cfg) && field(cfg, 'sparse') === true) layerError(path, first, 'is sparse; vggc reads dense image tensors');
  return [dims[0], dims[1], dims[2]];
}

/** A one-line error about the whole model rather than one layer. */
function modelError(path: string, msg: string): VggcError {
  return new VggcError(`${path}: ${msg}`);
}
