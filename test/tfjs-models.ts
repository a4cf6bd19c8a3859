/**
 * Small VGG-shaped tfjs-layers models for the TF.js reader tests, named as keras.applications names
 * them (block1_conv1 … block5_pool, flatten / avg_pool / max_pool, fc1, fc2, predictions), with
 * seeded initialisers, non-zero biases and non-trivial BatchNorm statistics.
 */
import { rng, tfl, tf } from './tfjs-helpers.js';

/** How one block's convolutions apply ReLU (and BatchNorm). */
export type ConvStyle =
  | 'relu' // Conv2D(activation 'relu')
  | 'bn-relu' // Conv2D(linear) → BatchNormalization → ReLU layer
  | 'bn-activation' // Conv2D(linear) → BatchNormalization → Activation('relu')
  | 'linear-relu'; // Conv2D(linear) → ReLU layer

export interface VggModelSpec {
  readonly name: string;
  readonly input: readonly [number, number, number];
  readonly blocks: readonly { readonly filters: number; readonly convs: number; readonly style?: ConvStyle }[];
  readonly head: 'flatten' | 'gap' | 'gmp';
  /** Dense layers; `relu-layer` is Dense(linear) followed by a ReLU layer. */
  readonly dense: readonly { readonly units: number; readonly activation: 'relu' | 'linear' | 'softmax' | 'sigmoid' | 'relu-layer' }[];
  /** A final Activation('softmax') / Softmax layer after a linear last Dense. */
  readonly finalLayer?: 'activation-softmax' | 'softmax-layer';
  readonly functional?: boolean;
  readonly dropout?: boolean;
  /** BatchNormalization options (center / scale false → no β / γ). */
  readonly bn?: { readonly center?: boolean; readonly scale?: boolean; readonly epsilon?: number };
  readonly seed: number;
}

export function buildVgg(spec: VggModelSpec): tfl.LayersModel {
  let seed = spec.seed * 1000;
  const kernelInit = () => tfl.initializers.glorotUniform({ seed: seed++ });
  const biasInit = () => tfl.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: seed++ });
  const layers: tfl.layers.Layer[] = [];
  spec.blocks.forEach((block, bi) => {
    const b = bi + 1;
    const style = block.style ?? 'relu';
    for (let j = 1; j <= block.convs; j++) {
      const activation = style === 'relu' ? 'relu' : 'linear';
      layers.push(tfl.layers.conv2d({ name: `block${b}_conv${j}`, filters: block.filters, kernelSize: 3, padding: 'same', activation, kernelInitializer: kernelInit(), biasInitializer: biasInit() }));
      if (style === 'bn-relu' || style === 'bn-activation') {
        layers.push(tfl.layers.batchNormalization({ name: `block${b}_bn${j}`, center: spec.bn?.center ?? true, scale: spec.bn?.scale ?? true, epsilon: spec.bn?.epsilon ?? 1e-3 }));
      }
      if (style === 'bn-activation') layers.push(tfl.layers.activation({ name: `block${b}_relu${j}`, activation: 'relu' }));
      if (style === 'bn-relu' || style === 'linear-relu') layers.push(tfl.layers.reLU({ name: `block${b}_relu${j}` }));
    }
    layers.push(tfl.layers.maxPooling2d({ name: `block${b}_pool`, poolSize: 2, strides: 2 }));
  });
  if (spec.dropout) layers.push(tfl.layers.dropout({ name: 'dropout_features', rate: 0.5 }));
  layers.push(
    spec.head === 'flatten' ? tfl.layers.flatten({ name: 'flatten' }) : spec.head === 'gap' ? tfl.layers.globalAveragePooling2d({ name: 'avg_pool' }) : tfl.layers.globalMaxPooling2d({ name: 'max_pool' }),
  );
  spec.dense.forEach((d, k) => {
    const last = k === spec.dense.length - 1;
    const name = last ? 'predictions' : `fc${k + 1}`;
    const activation = d.activation === 'relu-layer' ? 'linear' : d.activation;
    layers.push(tfl.layers.dense({ name, units: d.units, activation, kernelInitializer: kernelInit(), biasInitializer: biasInit() }));
    if (d.activation === 'relu-layer') layers.push(tfl.layers.reLU({ name: `${name}_relu` }));
    if (!last && spec.dropout) layers.push(tfl.layers.dropout({ name: `drop${k + 1}`, rate: 0.5 }));
  });
  if (spec.finalLayer === 'activation-softmax') layers.push(tfl.layers.activation({ name: 'probabilities', activation: 'softmax' }));
  if (spec.finalLayer === 'softmax-layer') layers.push(tfl.layers.softmax({ name: 'probabilities' }));

  let model: tfl.LayersModel;
  if (spec.functional) {
    const input = tfl.input({ shape: [...spec.input], name: 'input_1' });
    let x = input as tfl.SymbolicTensor;
    for (const l of layers) x = l.apply(x) as tfl.SymbolicTensor;
    model = tfl.model({ name: spec.name, inputs: input, outputs: x });
  } else {
    const seq = tfl.sequential({ name: spec.name });
    seq.add(tfl.layers.inputLayer({ name: 'input_1', inputShape: [...spec.input] }));
    for (const l of layers) seq.add(l);
    model = seq;
  }
  setBatchNormStatistics(model, spec.seed);
  return model;
}

/** γ ∈ [0.5, 1.5], β ∈ [-0.2, 0.2], moving mean ∈ [-0.3, 0.3], moving variance ∈ [0.2, 2]. */
export function setBatchNormStatistics(model: tfl.LayersModel, seed: number): void {
  const r = rng(seed + 7);
  const vec = (n: number, lo: number, hi: number) => tf.tensor1d(Array.from({ length: n }, () => lo + (hi - lo) * r()));
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const values = layer.weights.map((w) => {
      const n = w.shape[0]!;
      const param = w.originalName.split('/').pop();
      return param === 'gamma' ? vec(n, 0.5, 1.5) : param === 'beta' ? vec(n, -0.2, 0.2) : param === 'moving_mean' ? vec(n, -0.3, 0.3) : vec(n, 0.2, 2);
    });
    layer.setWeights(values);
  }
}

/** model.predict on an NHWC batch, as a flat Float32Array. */
export function predict(model: tfl.LayersModel, x: Float32Array, shape: readonly [number, number, number, number]): Float32Array {
  return tf.tidy(() => (model.predict(tf.tensor4d(x, [...shape])) as tf.Tensor).dataSync() as Float32Array).slice();
}
