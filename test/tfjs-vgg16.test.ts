// keras.applications VGG16 / VGG19 as tensorflowjs_converter writes them: a Keras 2 "Functional"
// model_config (InputLayer input_1, block1_conv1 … block5_pool, flatten, fc1, fc2, predictions with
// inbound_nodes [[[name, 0, 0, {}]]], Python Keras's config keys), weights in 4 MB shards. The
// topology is written here the way Keras serialises it; the weights come from a tfjs-layers model
// with the same layer names, and tfjs itself loads the Keras JSON for the model.predict reference.
// Narrow VGG16/VGG19 at 224×224, and the real-size VGG16 (138M parameters, 553 MB of weights in
// 132 shards): about 50 s (model.predict on tfjs-backend-wasm ~14 s; the CPU backend takes ~85 s)
// and 3.7 GB peak RSS on a 2-core machine.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { importTfjsModel } from '../compiler/frontend/tfjs/index.js';
import { compileModel } from '../compiler/pipeline.js';
import { loadModel } from '../runtime/index.js';
import { nhwcToNchw, relError, saveArtifacts, tf, tfl, uniform, useCpuBackend, useWasmBackend, writeTfjsModel, type Saved } from './tfjs-helpers.js';
import { predict } from './tfjs-models.js';
import { tempDir } from './helpers.js';

const work = tempDir('vggc-tfjs-vgg16-');
beforeAll(useCpuBackend);

const VGG16_CONVS = [2, 2, 3, 3, 3];
const VGG19_CONVS = [2, 2, 4, 4, 4];

interface Shape {
  readonly convs: readonly number[];
  readonly filters: readonly number[];
  readonly fc: number;
  readonly classes: number;
}

/** One Keras 2 layer entry of a Functional model_config, as `model.to_json()` writes it. */
function kerasLayer(className: string, name: string, config: Record<string, unknown>, inbound: string | null) {
  return { class_name: className, config: { name, trainable: true, dtype: 'float32', ...config }, name, inbound_nodes: inbound ? [[[inbound, 0, 0, {}]]] : [] };
}

const init = (seed: number | null) => ({ class_name: 'GlorotUniform', config: { seed } });
const zeros = { class_name: 'Zeros', config: {} };

/** keras.applications.vgg16.VGG16(include_top=True, weights=None, classes=…)'s model_config. */
function kerasVggConfig(s: Shape, name: string): Record<string, unknown> {
  const layers = [kerasLayer('InputLayer', 'input_1', { batch_input_shape: [null, 224, 224, 3], sparse: false, ragged: false }, null)];
  let prev = 'input_1';
  const add = (l: ReturnType<typeof kerasLayer>) => {
    layers.push(l);
    prev = l.name;
  };
  s.convs.forEach((n, b) => {
    for (let j = 1; j <= n; j++) {
      add(kerasLayer('Conv2D', `block${b + 1}_conv${j}`, {
        filters: s.filters[b], kernel_size: [3, 3], strides: [1, 1], padding: 'same', data_format: 'channels_last', dilation_rate: [1, 1], groups: 1,
        activation: 'relu', use_bias: true, kernel_initializer: init(null), bias_initializer: zeros,
        kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null,
      }, prev));
    }
    add(kerasLayer('MaxPooling2D', `block${b + 1}_pool`, { pool_size: [2, 2], padding: 'valid', strides: [2, 2], data_format: 'channels_last' }, prev));
  });
  add(kerasLayer('Flatten', 'flatten', { data_format: 'channels_last' }, prev));
  const dense = (n: string, units: number, activation: string) =>
    kerasLayer('Dense', n, { units, activation, use_bias: true, kernel_initializer: init(null), bias_initializer: zeros, kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null }, prev);
  add(dense('fc1', s.fc, 'relu'));
  add(dense('fc2', s.fc, 'relu'));
  add(dense('predictions', s.classes, 'softmax'));
  return { class_name: 'Functional', config: { name, layers, input_layers: [['input_1', 0, 0]], output_layers: [['predictions', 0, 0]] } };
}

/** The same network in tfjs-layers (seeded), for its weights: tfjs names them `block1_conv1/kernel` … as Keras does. */
function tfjsVgg(s: Shape, seed: number): tfl.LayersModel {
  let k = seed;
  const layer = <T>(make: (o: Record<string, unknown>) => T) => make({ kernelInitializer: tfl.initializers.glorotUniform({ seed: k++ }), biasInitializer: tfl.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: k++ }) });
  const input = tfl.input({ shape: [224, 224, 3], name: 'input_1' });
  let x = input as tfl.SymbolicTensor;
  s.convs.forEach((n, b) => {
    for (let j = 1; j <= n; j++) x = layer((o) => tfl.layers.conv2d({ ...o, name: `block${b + 1}_conv${j}`, filters: s.filters[b], kernelSize: 3, padding: 'same', activation: 'relu' })).apply(x) as tfl.SymbolicTensor;
    x = tfl.layers.maxPooling2d({ name: `block${b + 1}_pool`, poolSize: 2, strides: 2 }).apply(x) as tfl.SymbolicTensor;
  });
  x = tfl.layers.flatten({ name: 'flatten' }).apply(x) as tfl.SymbolicTensor;
  x = layer((o) => tfl.layers.dense({ ...o, name: 'fc1', units: s.fc, activation: 'relu' })).apply(x) as tfl.SymbolicTensor;
  x = layer((o) => tfl.layers.dense({ ...o, name: 'fc2', units: s.fc, activation: 'relu' })).apply(x) as tfl.SymbolicTensor;
  x = layer((o) => tfl.layers.dense({ ...o, name: 'predictions', units: s.classes, activation: 'softmax' })).apply(x) as tfl.SymbolicTensor;
  return tfl.model({ name: 'vgg16', inputs: input, outputs: x });
}

/** tensorflowjs_converter's layout: { keras_version, backend, model_config } and 4 MB shards. */
function writeConverted(saved: Saved, s: Shape, dir: string, name: string) {
  const converted: Saved = { ...saved, topology: { ...kerasVggConfig(s, name), keras_version: '2.13.1', backend: 'tensorflow' } };
  return writeTfjsModel(converted, dir, { form: 'converter', shardBytes: 4 * 1024 * 1024 });
}

const vggNames = (convs: readonly number[]) => {
  const names: Record<string, string> = {};
  convs.forEach((n, b) => {
    for (let j = 1; j <= n; j++) names[`block${b + 1}_conv${j}`] = `relu${b + 1}_${j}`;
    names[`block${b + 1}_pool`] = `pool${b + 1}`;
  });
  return { ...names, flatten: 'flatten', fc1: 'fc6', fc2: 'fc7', predictions: 'probabilities' };
};

/** Import, bridge, compile, run one image; compare with tfjs running the Keras JSON. */
async function endToEnd(s: Shape, id: string, seed: number, predictBackend: 'cpu' | 'wasm' = 'cpu') {
  const t0 = performance.now();
  const saved = await saveArtifacts(tfjsVgg(s, seed));
  const written = writeConverted(saved, s, join(work, id, 'tfjs'), 'vgg16');
  const tSaved = performance.now();
  const net = importTfjsModel(written.path);
  expect(net.name).toBe('vgg16');
  expect(net.blocks).toEqual(s.convs.map((n, b) => [b === 0 ? 3 : s.filters[b - 1], n, s.filters[b]]));
  expect(net.inputSize).toEqual([224, 224]);
  expect(net.headPool).toBeNull();
  expect(net.linears.map((l) => l.weight.shape)).toEqual([[s.fc, 7 * 7 * s.filters[4]], [s.fc, s.fc], [s.classes, s.fc]]);
  expect(net.finalActivation).toBe('softmax');
  expect(net.preprocessing).toBe('caffe');
  expect(Object.fromEntries(net.layerNames)).toEqual(vggNames(s.convs));
  net.close();
  const tBridged = performance.now();
  const { manifest } = await compileModel({ configPath: written.path, outDir: join(work, id, 'vggc') });
  expect(manifest.preprocessing.channelOrder).toBe('bgr'); // Keras's caffe convention
  expect(manifest.config.finalActivation).toBe('softmax');
  const tCompiled = performance.now();

  // tfjs loads the converter's files itself: the Keras 2 JSON and the sharded weights.
  const json = JSON.parse((await import('node:fs')).readFileSync(written.path, 'utf8'));
  if (predictBackend === 'wasm') await useWasmBackend();
  const reference = await tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: written.specs, weightData: written.data.slice().buffer }));
  const x = uniform(224 * 224 * 3, seed, -120, 150); // caffe-preprocessed pixel range
  const y = predict(reference, x, [1, 224, 224, 3]);
  reference.dispose();
  if (predictBackend === 'wasm') await useCpuBackend();
  const tPredicted = performance.now();
  const vggc = await loadModel(join(work, id, 'vggc'), { threads: 1 });
  const probs = await vggc.infer(nhwcToNchw(x, 1, 224, 224, 3), 1);
  vggc.dispose();
  const tRun = performance.now();
  const errors = { probabilities: relError(probs, y), logProbabilities: relError(Float64Array.from(probs, Math.log), y.map(Math.log)) };
  const seconds = (a: number, b: number) => ((b - a) / 1000).toFixed(1);
  console.log(
    `${id}: build+save ${seconds(t0, tSaved)} s, import ${seconds(tSaved, tBridged)} s, vggc compile ${seconds(tBridged, tCompiled)} s, ` +
      `model.predict ${seconds(tCompiled, tPredicted)} s, vggc load+infer ${seconds(tPredicted, tRun)} s; ` +
      `max error ${errors.probabilities.toExponential(2)} · max|y| (probabilities), ${errors.logProbabilities.toExponential(2)} (log-probabilities)`,
  );
  expect(errors.probabilities).toBeLessThanOrEqual(1e-4);
  expect(errors.logProbabilities).toBeLessThanOrEqual(1e-4);
}

describe('keras.applications VGG16 / VGG19 layout', () => {
  it('narrow VGG16 at 224×224 (filters 4…16, fc 32, 10 classes): import, compile, agree with model.predict', async () => {
    await endToEnd({ convs: VGG16_CONVS, filters: [4, 8, 8, 16, 16], fc: 32, classes: 10 }, 'vgg16-narrow', 41);
  });

  it('narrow VGG19: blocks [2, 2, 4, 4, 4], block5_conv4 → relu5_4', async () => {
    const s: Shape = { convs: VGG19_CONVS, filters: [2, 2, 4, 4, 4], fc: 8, classes: 5 };
    const saved = await saveArtifacts(tfjsVgg(s, 42));
    const written = writeConverted(saved, s, join(work, 'vgg19-narrow'), 'vgg19');
    const net = importTfjsModel(written.path);
    expect(net.name).toBe('vgg19');
    expect(net.blocks.map((b) => b[1])).toEqual(VGG19_CONVS);
    expect(net.layerNames.get('block5_conv4')).toBe('relu5_4');
    expect(Object.fromEntries(net.layerNames)).toEqual(vggNames(VGG19_CONVS));
  });

  it('real-size VGG16 (64…512 filters, fc 4096, 1000 classes, 138M parameters)', async () => {
    await endToEnd({ convs: VGG16_CONVS, filters: [64, 128, 256, 512, 512], fc: 4096, classes: 1000 }, 'vgg16-full', 43, 'wasm');
  }, 600_000);
});
