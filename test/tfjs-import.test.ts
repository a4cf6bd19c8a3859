// TF.js LayersModel reader (compiler/frontend/tfjs): models built and saved with tfjs-layers 4.22,
// written as model.json + shards (tfjs-layers' topology form and tensorflowjs_converter's
// model_config form), imported, and checked: structure, vggc layer names, and every weight in
// PyTorch's layout against tfjs-core's own transposes of the layer's weights.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { importTfjsModel, type TfjsImport } from '../compiler/frontend/tfjs/index.js';
import { readAll, saveArtifacts, tf, tfl, useCpuBackend, writeTfjsModel } from './tfjs-helpers.js';
import { buildVgg, type VggModelSpec } from './tfjs-models.js';
import { tempDir } from './helpers.js';

const work = tempDir('vggc-tfjs-import-');
beforeAll(useCpuBackend);

/** tfjs-core's transposes, the reference for the reader's own index arithmetic. */
function expectedLayouts(model: tfl.LayersModel, net: TfjsImport): void {
  const lastConv = model.layers.filter((l) => l.getClassName() === 'Conv2D').pop()!;
  net.convs.forEach((conv, c) => {
    const layer = model.layers.filter((l) => l.getClassName() === 'Conv2D')[c];
    const [kernel, bias] = layer.getWeights();
    expect(conv.weight.origin).toBe(`${layer.name}/kernel`);
    expect(Array.from(readAll(conv.weight))).toEqual(Array.from(tf.transpose(kernel, [3, 2, 0, 1]).dataSync()));
    expect(Array.from(readAll(conv.bias!))).toEqual(Array.from(bias.dataSync()));
  });
  const denses = model.layers.filter((l) => l.getClassName() === 'Dense');
  const flatten = model.layers.find((l) => l.getClassName() === 'Flatten');
  net.linears.forEach((lin, k) => {
    const [kernel, bias] = denses[k].getWeights();
    let want: tf.Tensor;
    if (k === 0 && flatten) {
      // Keras rows are (h, w, c); vggc's inputs are (c, h, w).
      const [, h, w, c] = lastConv.outputShape as number[];
      const pooled = [Math.floor(h / 2), Math.floor(w / 2), c];
      want = tf.reshape(tf.transpose(tf.reshape(kernel, [...pooled, kernel.shape[1]!]), [3, 2, 0, 1]), [kernel.shape[1]!, kernel.shape[0]!]);
    } else {
      want = tf.transpose(kernel);
    }
    expect(lin.weight.shape).toEqual(want.shape);
    expect(Array.from(readAll(lin.weight))).toEqual(Array.from(want.dataSync()));
    expect(Array.from(readAll(lin.bias!))).toEqual(Array.from(bias.dataSync()));
  });
}

async function roundTrip(spec: VggModelSpec, opts: Parameters<typeof writeTfjsModel>[2] = {}) {
  const model = buildVgg(spec);
  const saved = await saveArtifacts(model);
  const { path } = writeTfjsModel(saved, join(work, `${spec.name}-${opts.form ?? 'tfjs'}-${opts.shardBytes ?? 0}`), opts);
  return { model, saved, path, net: importTfjsModel(path) };
}

describe('Sequential, Flatten at a 3×2 map, softmax', () => {
  const spec: VggModelSpec = {
    name: 'seq_flatten',
    input: [12, 10, 3],
    blocks: [{ filters: 4, convs: 1 }, { filters: 6, convs: 2 }],
    head: 'flatten',
    dense: [{ units: 8, activation: 'relu' }, { units: 7, activation: 'relu' }, { units: 5, activation: 'softmax' }],
    dropout: true,
    seed: 1,
  };

  it.each([
    ['tfjs-layers form, one shard', {}],
    ['converter model_config form, 97-byte shards', { form: 'converter' as const, shardBytes: 97 }],
  ])('%s', async (_, opts) => {
    const { model, saved, path, net } = await roundTrip(spec, opts);
    expect(saved.specs.map((s) => s.name)).toContain('block2_conv2/kernel');
    expect(net.source).toBe(path);
    expect(net.name).toBe('seq_flatten');
    expect(net.blocks).toEqual([[3, 1, 4], [4, 2, 6]]);
    expect(net.inputSize).toEqual([12, 10]);
    expect(net.headPool).toBeNull();
    expect(net.linears.map((l) => [l.weight.shape, l.relu])).toEqual([[[8, 3 * 2 * 6], true], [[7, 8], true], [[5, 7], false]]);
    expect(net.finalActivation).toBe('softmax');
    expect(net.preprocessing).toBe('caffe');
    expect(net.convs.every((c) => c.batchNorm === null)).toBe(true);
    expect(Object.fromEntries(net.layerNames)).toEqual({
      block1_conv1: 'relu1_1', block1_pool: 'pool1', block2_conv1: 'relu2_1', block2_conv2: 'relu2_2', block2_pool: 'pool2',
      flatten: 'flatten', fc1: 'fc6', fc2: 'fc7', predictions: 'probabilities',
    });
    expectedLayouts(model, net);
    // Slices read the same values as the whole tensor, across row boundaries.
    const w = net.linears[0].weight;
    expect(Array.from(w.read(30, 50))).toEqual(Array.from(readAll(w).subarray(30, 80)));
    const k = net.convs[2].weight;
    expect(Array.from(k.read(7, 100))).toEqual(Array.from(readAll(k).subarray(7, 107)));
    net.close();
  });
});

describe('Functional (keras.applications layout), BatchNorm, global pools, linear hidden layers', () => {
  it('Conv2D(linear) → BatchNormalization(ε 1e-3) → ReLU, GlobalAveragePooling2D, Dense linear hidden, sigmoid; converter form', async () => {
    const spec: VggModelSpec = {
      name: 'func_bn_gap',
      input: [16, 16, 3],
      blocks: [{ filters: 5, convs: 2, style: 'bn-relu' }, { filters: 7, convs: 1, style: 'bn-activation' }],
      head: 'gap',
      dense: [{ units: 9, activation: 'linear' }, { units: 3, activation: 'sigmoid' }],
      functional: true,
      seed: 2,
    };
    const { model, path, net } = await roundTrip(spec, { form: 'converter', shardBytes: 256 });
    expect(net.blocks).toEqual([[3, 2, 5], [5, 1, 7]]);
    expect(net.headPool).toEqual({ kind: 'avg', size: [1, 1] });
    expect(net.linears.map((l) => l.relu)).toEqual([false, false]);
    expect(net.finalActivation).toBe('sigmoid');
    expect(Object.fromEntries(net.layerNames)).toEqual({
      block1_bn1: 'conv1_1', block1_relu1: 'relu1_1', block1_bn2: 'conv1_2', block1_relu2: 'relu1_2', block1_pool: 'pool1',
      block2_bn1: 'conv2_1', block2_relu1: 'relu2_1', block2_pool: 'pool2', avg_pool: 'avgpool', fc1: 'fc6', predictions: 'probabilities',
    });
    const bnLayers = model.layers.filter((l) => l.getClassName() === 'BatchNormalization');
    net.convs.forEach((conv, c) => {
      const bn = conv.batchNorm!;
      expect(bn.eps).toBe(1e-3);
      const [gamma, beta, mean, variance] = bnLayers[c].getWeights().map((t) => Array.from(t.dataSync()));
      expect([bn.weight, bn.bias, bn.runningMean, bn.runningVar].map((t) => Array.from(readAll(t!)))).toEqual([gamma, beta, mean, variance]);
      expect(variance.some((v) => Math.abs(v - 1) > 0.1)).toBe(true); // the statistics are not the initial ones
    });
    expectedLayouts(model, net);
    expect(path).toMatch(/model\.json$/);
  });

  it('GlobalMaxPooling2D, Dense(linear) → ReLU layer, Activation(softmax); BatchNorm without γ and β, ε 1e-5', async () => {
    const spec: VggModelSpec = {
      name: 'func_gmp',
      input: [8, 8, 2],
      blocks: [{ filters: 4, convs: 1, style: 'bn-relu' }, { filters: 4, convs: 1, style: 'linear-relu' }],
      head: 'gmp',
      dense: [{ units: 6, activation: 'relu-layer' }, { units: 4, activation: 'linear' }],
      finalLayer: 'activation-softmax',
      bn: { center: false, scale: false, epsilon: 1e-5 },
      functional: true,
      seed: 3,
    };
    const { net } = await roundTrip(spec);
    expect(net.blocks).toEqual([[2, 1, 4], [4, 1, 4]]);
    expect(net.headPool).toEqual({ kind: 'max', size: [1, 1] });
    expect(net.linears.map((l) => l.relu)).toEqual([true, false]);
    expect(net.finalActivation).toBe('softmax');
    const bn = net.convs[0].batchNorm!;
    expect([bn.weight, bn.bias, bn.eps]).toEqual([null, null, 1e-5]);
    expect(net.convs[1].batchNorm).toBeNull();
    expect(Object.fromEntries(net.layerNames)).toEqual({
      block1_bn1: 'conv1_1', block1_relu1: 'relu1_1', block1_pool: 'pool1', block2_conv1: 'conv2_1', block2_relu1: 'relu2_1', block2_pool: 'pool2',
      max_pool: 'avgpool', fc1: 'fc6_pre', fc1_relu: 'fc6', predictions: 'logits', probabilities: 'probabilities',
    });
  });

  it('a Softmax layer after a linear last Dense; Sequential without InputLayer (batch_input_shape on the first conv)', async () => {
    const model = tfl.sequential({ name: 'no_input_layer' });
    model.add(tfl.layers.conv2d({ name: 'c1', inputShape: [6, 4, 1], filters: 3, kernelSize: 3, padding: 'same', activation: 'relu' }));
    model.add(tfl.layers.maxPooling2d({ name: 'p1', poolSize: 2 }));
    model.add(tfl.layers.flatten({ name: 'f' }));
    model.add(tfl.layers.dense({ name: 'd', units: 2 }));
    model.add(tfl.layers.softmax({ name: 's' }));
    const { path } = writeTfjsModel(await saveArtifacts(model), join(work, 'no-input-layer'));
    const net = importTfjsModel(path);
    expect(net.blocks).toEqual([[1, 1, 3]]);
    expect(net.inputSize).toEqual([6, 4]);
    expect(net.finalActivation).toBe('softmax');
    expect(net.linears[0].weight.shape).toEqual([2, 3 * 2 * 3]);
  });
});

describe('nested models and other Keras spellings', () => {
  it('Sequential([VGG-style Functional base, Flatten, Dense]): the base is spliced in', async () => {
    const base = buildVgg({ name: 'vgg_base', input: [8, 8, 3], blocks: [{ filters: 4, convs: 2 }], head: 'gap', dense: [{ units: 2, activation: 'linear' }], functional: true, seed: 4 });
    // keras.applications with include_top=False: the model up to the last pool.
    const features = tfl.model({ name: 'vgg_features', inputs: base.inputs, outputs: base.getLayer('block1_pool').output as tfl.SymbolicTensor });
    const top = tfl.sequential({ name: 'transfer' });
    top.add(features);
    top.add(tfl.layers.flatten({ name: 'flatten' }));
    top.add(tfl.layers.dense({ name: 'head', units: 3, activation: 'softmax' }));
    const saved = await saveArtifacts(top);
    const { path } = writeTfjsModel(saved, join(work, 'nested'));
    const net = importTfjsModel(path);
    expect(net.name).toBe('transfer');
    expect(net.blocks).toEqual([[3, 2, 4]]);
    expect(net.inputSize).toEqual([8, 8]);
    expect([...net.layerNames.keys()]).toEqual(['block1_conv1', 'block1_conv2', 'block1_pool', 'flatten', 'head']);
    const kernel = base.getLayer('block1_conv2').getWeights()[0];
    expect(Array.from(readAll(net.convs[1].weight))).toEqual(Array.from(tf.transpose(kernel, [3, 2, 0, 1]).dataSync()));
  });

  it('Keras 3 inbound_nodes ({args: [keras_tensor]}), batch_shape, prefixed and :0-suffixed weight names', async () => {
    const spec: VggModelSpec = { name: 'keras3', input: [4, 4, 3], blocks: [{ filters: 2, convs: 1 }], head: 'flatten', dense: [{ units: 3, activation: 'linear' }], functional: true, seed: 5 };
    const model = buildVgg(spec);
    const saved = await saveArtifacts(model);
    const { path } = writeTfjsModel(saved, join(work, 'keras3'), {
      edit: (json) => {
        const layers = json.modelTopology.config.layers as Record<string, any>[];
        json.modelTopology.class_name = 'Functional';
        for (const l of layers) {
          if (l.class_name === 'InputLayer') {
            l.config.batch_shape = l.config.batch_input_shape;
            delete l.config.batch_input_shape;
          }
          l.inbound_nodes = l.inbound_nodes.map((node: any[]) => ({
            args: node.map(([name, n, t]: [string, number, number]) => ({ class_name: '__keras_tensor__', config: { shape: null, dtype: 'float32', keras_history: [name, n, t] } })),
            kwargs: {},
          }));
        }
        json.modelTopology.config.input_layers = json.modelTopology.config.input_layers[0];
        const weights = json.weightsManifest[0].weights as { name: string }[];
        weights[0].name = `keras3/${weights[0].name}`; // block1_conv1/kernel, under the model's scope
        weights[1].name = `${weights[1].name}:0`; // block1_conv1/bias:0, as Python names it
      },
    });
    const net = importTfjsModel(path);
    expect(net.blocks).toEqual([[3, 1, 2]]);
    expect(net.convs[0].weight.origin).toBe('keras3/block1_conv1/kernel');
    expect(net.convs[0].bias!.origin).toBe('block1_conv1/bias:0');
    expect(Array.from(readAll(net.convs[0].bias!))).toEqual(Array.from(model.getLayer('block1_conv1').getWeights()[1].dataSync()));
  });

  it('use_bias false: null biases', async () => {
    const model = tfl.sequential({ name: 'nobias' });
    model.add(tfl.layers.conv2d({ name: 'block1_conv1', inputShape: [4, 4, 3], filters: 2, kernelSize: 3, padding: 'same', activation: 'relu', useBias: false }));
    model.add(tfl.layers.maxPooling2d({ name: 'block1_pool', poolSize: 2 }));
    model.add(tfl.layers.globalAveragePooling2d({ name: 'gap' }));
    model.add(tfl.layers.dense({ name: 'predictions', units: 2, useBias: false }));
    const { path } = writeTfjsModel(await saveArtifacts(model), join(work, 'nobias'));
    const net = importTfjsModel(path);
    expect(net.convs[0].bias).toBeNull();
    expect(net.linears[0].bias).toBeNull();
  });
});

describe('lazy decoding', () => {
  it('reads a shard only when a tensor is first read, and keeps one decoded tensor', async () => {
    const spec: VggModelSpec = { name: 'lazy', input: [4, 4, 3], blocks: [{ filters: 2, convs: 1 }], head: 'flatten', dense: [{ units: 3, activation: 'linear' }], seed: 6 };
    const { path } = writeTfjsModel(await saveArtifacts(buildVgg(spec)), join(work, 'lazy'));
    const net = importTfjsModel(path);
    const { rmSync } = await import('node:fs');
    rmSync(join(work, 'lazy', 'group1-shard1of1.bin'));
    // Import needed the shard's size only; the first read finds it gone and says which weight and shard.
    expect(() => net.convs[0].weight.read(0, 1)).toThrow(/model\.json: weight "block1_conv1\/kernel": shard "group1-shard1of1\.bin" cannot be opened/);
  });

  it('keeps decoded kernels within its budget (always the last one), reads vectors range by range', async () => {
    const spec: VggModelSpec = { name: 'budget', input: [4, 4, 3], blocks: [{ filters: 8, convs: 2 }], head: 'flatten', dense: [{ units: 3, activation: 'linear' }], seed: 7 };
    const { path } = writeTfjsModel(await saveArtifacts(buildVgg(spec)), join(work, 'budget'));
    const { readManifest } = await import('../compiler/frontend/tfjs/manifest.js');
    const { readModelJson } = await import('../compiler/frontend/tfjs/model-json.js');
    const { WeightReader } = await import('../compiler/frontend/tfjs/tensors.js');
    const entries = readManifest(readModelJson(path).weightsManifest, path);
    const [k1, k2, b1] = ['block1_conv1/kernel', 'block1_conv2/kernel', 'block1_conv1/bias'].map((n) => entries.get(n)!);
    // Room for conv2's kernel (2304 bytes) but not for both kernels.
    const reader = new WeightReader(path, 3000);
    const first = reader.whole(k1);
    expect(reader.whole(k1)).toBe(first);
    const second = reader.whole(k2);
    expect(reader.whole(k2)).toBe(second);
    expect(reader.whole(k1)).not.toBe(first); // evicted by conv2's, decoded again
    expect(Array.from(reader.range(b1, 2, 3))).toEqual(Array.from(reader.range(b1, 0, 8).subarray(2, 5)));
    const { rmSync } = await import('node:fs');
    rmSync(join(work, 'budget', 'group1-shard1of1.bin'));
    expect(reader.whole(k1)).toBeInstanceOf(Float32Array); // still kept
    expect(() => reader.range(b1, 0, 1)).toThrow(/cannot be opened/); // vectors always go to the shard
  });
});
