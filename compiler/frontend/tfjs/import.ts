/**
 * TensorFlow.js LayersModel (model.json + .bin shards, from tfjs-layers' `model.save` or
 * `tensorflowjs_converter --output_format tfjs_layers_model`) → ImportedNetwork. No Python, no
 * converter: the topology is read as a VGG (layers.ts), each layer's weights are found in the
 * manifest by layer name and checked against the shape the layer implies, and are decoded lazily in
 * PyTorch's layout (tensors.ts).
 */
import * as nodePath from 'node:path';
import { VggcError } from '../../errors.js';
import type { ImportedBatchNorm, ImportedConv, ImportedLinear, ImportedNetwork, StoredTensor } from '../imported.js';
import { isObject, quote } from './json-fields.js';
import { readVgg, type ConvSpec, type DenseSpec, type LayerRef } from './layers.js';
import { readManifest, type WeightEntry } from './manifest.js';
import { readModelJson } from './model-json.js';
import { convKernelTensor, WeightReader, denseKernelTensor, vectorTensor } from './tensors.js';
import { layerChain } from './topology.js';

export interface TfjsImport extends ImportedNetwork {
  /**
   * Drops the decoded kernels kept for consecutive reads. No file handles are held between reads
   * (each read opens and closes its shards), so this is optional but frees memory.
   */
  close(): void;
}

export function importTfjsModel(modelJsonPath: string): TfjsImport {
  const path = modelJsonPath;
  const json = readModelJson(path);
  const spec = readVgg(layerChain(json.model, path), path);
  const weights = new WeightFinder(readManifest(json.weightsManifest, path), path);
  const reader = new WeightReader(path);

  const convs: ImportedConv[] = [];
  let channels = spec.inputChannels;
  for (const conv of spec.convs) {
    const imported = importConv(conv, channels, weights, reader, path);
    convs.push(imported);
    channels = conv.filters;
  }

  const blocks: [number, number, number][] = [];
  let c = 0;
  for (const n of spec.convsPerBlock) {
    blocks.push([convs[c].weight.shape[1], n, spec.convs[c].filters]);
    c += n;
  }

  const lastFilters = spec.convs[spec.convs.length - 1].filters;
  const flattened: readonly [number, number, number] | null = spec.flattenMap ? [spec.flattenMap[0], spec.flattenMap[1], lastFilters] : null;
  let features = flattened ? flattened[0] * flattened[1] * flattened[2] : lastFilters;
  const linears: ImportedLinear[] = spec.denses.map((dense, k) => {
    const linear = importDense(dense, features, k === 0 ? flattened : null, weights, reader);
    features = dense.units;
    return linear;
  });

  return {
    source: path,
    name: modelName(json.model.config, path),
    blocks,
    convs,
    inputSize: spec.inputSize,
    headPool: spec.headPool,
    linears,
    finalActivation: spec.finalActivation,
    // keras.applications' VGG16/VGG19 expect caffe-style input (BGR, ImageNet means subtracted, no scaling).
    preprocessing: 'caffe',
    layerNames: spec.layerNames,
    close: () => reader.clear(),
  };
}

function importConv(conv: ConvSpec, inChannels: number | null, weights: WeightFinder, reader: WeightReader, path: string): ImportedConv {
  const layer = conv.layer;
  const kernel = weights.find(layer, 'kernel');
  // The first conv's input channels come from its kernel when no InputLayer states them.
  const cin = inChannels ?? (kernel.shape.length === 4 ? kernel.shape[2] : 0);
  if (cin <= 0) throw new VggcError(`${path}: weight ${quote(kernel.name)} has shape [${kernel.shape.join(', ')}], expected [3, 3, in, ${conv.filters}] (layer ${quote(conv.layer.name)} (${conv.layer.className}))`);
  weights.expectShape(kernel, [3, 3, cin, conv.filters], layer, inChannels === null ? `filters ${conv.filters}` : `${cin} input channels, filters ${conv.filters}`);
  const bias = conv.useBias ? weights.vector(layer, 'bias', conv.filters, reader) : null;
  let batchNorm: ImportedBatchNorm | null = null;
  if (conv.batchNorm) {
    const bn = conv.batchNorm;
    const bnLayer = bn.layer;
    batchNorm = {
      weight: bn.scale ? weights.vector(bnLayer, 'gamma', conv.filters, reader) : null,
      bias: bn.center ? weights.vector(bnLayer, 'beta', conv.filters, reader) : null,
      runningMean: weights.vector(bnLayer, 'moving_mean', conv.filters, reader),
      runningVar: weights.vector(bnLayer, 'moving_variance', conv.filters, reader),
      eps: bn.eps,
    };
  }
  return { weight: convKernelTensor(kernel, reader), bias, batchNorm };
}

function importDense(dense: DenseSpec, inFeatures: number, flattened: readonly [number, number, number] | null, weights: WeightFinder, reader: WeightReader): ImportedLinear {
  const layer = dense.layer;
  const kernel = weights.find(layer, 'kernel');
  const why = flattened ? `Flatten of a ${flattened.join('×')} map gives ${inFeatures} inputs, units ${dense.units}` : `${inFeatures} inputs, units ${dense.units}`;
  weights.expectShape(kernel, [inFeatures, dense.units], layer, why);
  return {
    weight: denseKernelTensor(kernel, reader, flattened),
    bias: dense.useBias ? weights.vector(layer, 'bias', dense.units, reader) : null,
    relu: dense.relu,
  };
}

/**
 * Finds a layer's weight in the manifest. Keras and tfjs-layers name it `layer/param`; a model nested
 * in another (or saved under a name scope) prefixes it (`vgg16/block1_conv1/kernel`); TF 2.2+ inserts
 * a cell name (`layer/cell/param`), and Python names may keep the `:0` output suffix.
 */
class WeightFinder {
  constructor(
    private readonly entries: ReadonlyMap<string, WeightEntry>,
    private readonly path: string,
  ) {}

  find(layer: LayerRef, param: string): WeightEntry {
    const want = `${layer.name}/${param}`;
    const exact = this.entries.get(want) ?? this.entries.get(`${want}:0`);
    const entry = exact ?? this.loose(layer, want);
    if (entry.dtype !== 'float32') this.fail(layer, `weight ${quote(entry.name)} has dtype ${quote(entry.dtype)}; vggc reads float32 weights (plain or quantised)`);
    return entry;
  }

  private loose(layer: LayerRef, want: string): WeightEntry {
    const matches = [...this.entries.values()].filter((e) => {
      const name = e.name.replace(/:0$/, '');
      if (name.endsWith(`/${want}`)) return true;
      const tokens = name.split('/');
      return tokens.length >= 3 && [...tokens.slice(0, -2), tokens[tokens.length - 1]].join('/') === want;
    });
    if (matches.length === 1) return matches[0];
    if (matches.length > 1) return this.fail(layer, `weight ${quote(want)} is ambiguous: weightsManifest has ${matches.map((m) => quote(m.name)).join(', ')}`);
    return this.fail(layer, `weight ${quote(want)} is missing from weightsManifest`);
  }

  expectShape(entry: WeightEntry, shape: readonly number[], layer: LayerRef, why: string): void {
    const same = entry.shape.length === shape.length && entry.shape.every((d, i) => d === shape[i]);
    if (!same) this.fail(layer, `weight ${quote(entry.name)} has shape [${entry.shape.join(', ')}], expected [${shape.join(', ')}] (${why})`);
  }

  vector(layer: LayerRef, param: string, length: number, reader: WeightReader): StoredTensor {
    const entry = this.find(layer, param);
    this.expectShape(entry, [length], layer, `one per channel, ${length}`);
    return vectorTensor(entry, reader);
  }

  private fail(layer: LayerRef, msg: string): never {
    throw new VggcError(`${this.path}: layer ${quote(layer.name)} (${layer.className}): ${msg}`);
  }
}

/** The model's own name; else the file's base name (the folder's, for the usual `model.json`). */
function modelName(config: unknown, path: string): string {
  if (isObject(config) && typeof config.name === 'string' && config.name !== '') return config.name;
  const stem = nodePath.basename(path).replace(/\.json$/i, '');
  return stem === 'model' ? nodePath.basename(nodePath.dirname(nodePath.resolve(path))) : stem;
}
