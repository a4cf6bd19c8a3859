/**
 * An ImportedNetwork (imported.ts) as the compiler takes it: the config it implies, and its tensors
 * paired by position with the layer graph's own parameters (graph/graph.ts owns torchvision's key
 * numbering; no front end rebuilds it). Shared by every front end that finds the network in a model
 * file instead of a config: ONNX, PyTorch checkpoints, TensorFlow.js models.
 */
import { VggcError } from '../errors.js';
import type { LayerGraph, ParamTensor } from '../graph/graph.js';
import { unravel } from './safetensors/read.js';
import type { WeightSource } from '../weights/source.js';
import type { ImportedNetwork, StoredTensor } from './imported.js';
import type { PreprocessingPreset } from './config/preprocessing.js';

/** A parameter's values: a tensor of the model, or a constant the model leaves out (no bias: 0; no BatchNorm γ: 1). */
export type PairedTensor = { readonly tensor: StoredTensor } | { readonly fill: number; readonly origin: string };

export interface PairingOptions {
  /** Load NaN/±Inf values instead of rejecting them. */
  readonly allowNonfinite?: boolean;
}

/** What the user sets on the command line over what a model file implies. */
export interface NetworkOverrides {
  /** `--input-size HxW`: the input the network is compiled for (default: the model's own, else 224×224). */
  readonly inputSize?: readonly [number, number];
  /** `--preprocessing`: the convention images are prepared with (default: the one the source implies). */
  readonly preprocessing?: PreprocessingPreset;
  /** `--outputs`: named outputs instead of the model's last tensor. */
  readonly outputs?: readonly string[];
  /** `--output-layout`: maps returned as NCHW (default) or NHWC. */
  readonly outputLayout?: 'nchw' | 'nhwc';
}

/** The config the network implies (validated by the caller with frontend/config's validateConfig). */
export function networkConfig(net: ImportedNetwork, overrides: NetworkOverrides, fail: (msg: string) => never): Record<string, unknown> {
  const bn = net.convs.map((c) => c.batchNorm);
  const eps = [...new Set(bn.flatMap((b) => (b ? [Math.fround(b.eps)] : [])))];
  if (eps.length > 1) fail(`its BatchNorm layers use different ε (${eps.join(', ')}); vggc folds every layer with one batchNormEps`);
  const last = net.linears[net.linears.length - 1];
  if (!last) fail('the model has no fully-connected layer; a VGG ends with a classifier');
  if (last.relu) fail('the last fully-connected layer is followed by ReLU; vggc\'s classifier ends with a Linear layer (and an optional softmax or sigmoid)');
  const pool = net.headPool;
  // The convention a source implies (Keras: caffe) is defined on RGB; other channel counts keep vggc's default.
  const implied = net.preprocessing === 'torch' || net.blocks[0]?.[0] === 3 ? net.preprocessing : null;
  const preprocessing = overrides.preprocessing ?? implied;
  return {
    name: net.name.slice(0, 200) || 'model',
    blocks: net.blocks.map((b) => [...b]),
    ...(overrides.inputSize ? { inputSize: [...overrides.inputSize] } : net.inputSize ? { inputSize: [...net.inputSize] } : {}),
    batchNorm: eps.length > 0,
    ...(eps.length ? { batchNormEps: bn.find((b) => b)!.eps } : {}),
    avgPool: pool?.kind === 'avg' ? [...pool.size] : null,
    maxPool: pool?.kind === 'max' ? [...pool.size] : null,
    classifier: net.linears.slice(0, -1).map((l) => (l.relu ? l.weight.shape[0] : { features: l.weight.shape[0], relu: false })),
    numClasses: last.weight.shape[0],
    finalActivation: net.finalActivation,
    ...(preprocessing ? { preprocessing } : {}),
    ...(overrides.outputs ? { outputs: [...overrides.outputs] } : {}),
    ...(overrides.outputLayout ? { outputLayout: overrides.outputLayout } : {}),
  };
}

/**
 * Every parameter of `graph` paired with the network's tensor in the same position: the i-th
 * convolution's weight and bias (and its BatchNorm's), then the k-th fully-connected layer's.
 */
export function pairByPosition(net: ImportedNetwork, graph: LayerGraph, fail: (msg: string) => never): Map<string, PairedTensor> {
  const pairs = new Map<string, PairedTensor>();
  const put = (p: ParamTensor, t: StoredTensor | null, fill: number, missing: string): void => void pairs.set(p.key, t ? { tensor: t } : { fill, origin: missing });
  let conv = 0;
  let linear = 0;
  for (const op of graph.ops) {
    if (op.kind === 'conv3x3') {
      const c = net.convs[conv++];
      if (!c) return fail(`the model has ${net.convs.length} convolutions, the config ${conv} or more`);
      put(op.weight, c.weight, 0, '');
      put(op.bias, c.bias, 0, 'zeros (no bias in the model)');
    } else if (op.kind === 'batchnorm2d') {
      // A convolution the model does not normalise (Keras models may mix them) gets the identity:
      // γ 1, β 0, mean 0, var 1 − ε, so that the fold's γ / √(var + ε) is 1.
      const b = net.convs[conv - 1]?.batchNorm ?? null;
      put(op.weight, b?.weight ?? null, 1, b ? 'ones (no BatchNorm scale in the model)' : 'ones (no BatchNorm here in the model)');
      put(op.bias, b?.bias ?? null, 0, b ? 'zeros (no BatchNorm shift in the model)' : 'zeros (no BatchNorm here in the model)');
      put(op.runningMean, b?.runningMean ?? null, 0, 'zeros (no BatchNorm here in the model)');
      put(op.runningVar, b?.runningVar ?? null, 1 - op.eps, '1 − ε (no BatchNorm here in the model)');
    } else if (op.kind === 'linear') {
      const l = net.linears[linear++];
      if (!l) return fail(`the model has ${net.linears.length} fully-connected layers, the config ${linear} or more`);
      put(op.weight, l.weight, 0, '');
      put(op.bias, l.bias, 0, 'zeros (no bias in the model)');
    }
  }
  if (conv !== net.convs.length || linear !== net.linears.length) fail(`the model has ${net.convs.length} convolutions and ${net.linears.length} fully-connected layers, the config ${conv} and ${linear}`);
  return pairs;
}

/**
 * The parameters found by key in a checkpoint's state_dict (a config given with --weights):
 * torchvision's keys or the seed notebook's, whichever matches more; every parameter must be there
 * with its shape, and nothing else may be (BatchNorm's num_batches_tracked and `ignored` aside: the
 * layers a cut model drops).
 */
export function pairByKey(tensors: ReadonlyMap<string, StoredTensor>, params: readonly ParamTensor[], fail: (msg: string) => never, ignored: ReadonlySet<string> = new Set()): Map<string, PairedTensor> {
  const count = (keyOf: (p: ParamTensor) => string): number => params.filter((p) => tensors.has(keyOf(p))).length;
  const keyOf = count((p) => p.notebookKey) > count((p) => p.key) ? (p: ParamTensor) => p.notebookKey : (p: ParamTensor) => p.key;
  const pairs = new Map<string, PairedTensor>();
  const used = new Set<string>();
  for (const p of params) {
    const k = keyOf(p);
    const t = tensors.get(k);
    if (!t) return fail(`missing tensor ${k} (expected shape [${p.shape.join(', ')}])`);
    if (!sameShape(t.shape, p.shape)) fail(`tensor ${k} has shape [${t.shape.join(', ')}] but the config expects [${p.shape.join(', ')}]`);
    pairs.set(p.key, { tensor: t });
    used.add(k);
  }
  const extras = [...tensors.keys()].filter((k) => !used.has(k) && !ignored.has(k) && !k.endsWith('.num_batches_tracked'));
  if (extras.length) fail(`unexpected tensor ${extras[0]} (not a parameter of this config${extras.length > 1 ? `; ${extras.length} unexpected tensors in total` : ''})`);
  return pairs;
}

/** Where each parameter comes from, for people: `features.0.weight ← onnx::Conv_33`. */
export function pairingOrigins(pairs: ReadonlyMap<string, PairedTensor>): Map<string, string> {
  return new Map([...pairs].map(([key, p]) => [key, 'tensor' in p ? p.tensor.origin : p.origin]));
}

/**
 * A WeightSource over `pairs` for exactly `params`; every value is checked to be finite unless
 * allowed. `file` starts every message; `close` releases the model file.
 */
export function pairedSource(file: string, pairs: ReadonlyMap<string, PairedTensor>, params: readonly ParamTensor[], opts: PairingOptions, close: () => void): WeightSource {
  const fail = (msg: string): never => {
    throw new VggcError(`${file}: ${msg}`);
  };
  for (const p of params) {
    const w = pairs.get(p.key);
    if (!w) fail(`the model has no tensor for ${p.key} (expected shape [${p.shape.join(', ')}])`);
    if (w && 'tensor' in w && !sameShape(w.tensor.shape, p.shape)) fail(`tensor ${JSON.stringify(w.tensor.origin)} (${p.key}) has shape [${w.tensor.shape.join(', ')}] but the config expects [${p.shape.join(', ')}]`);
  }
  let closed = false;
  return {
    description: file,
    readRows(param, rowStart, rowEnd) {
      if (closed) throw new Error(`${file} was already closed`);
      const w = pairs.get(param.key);
      if (!w) throw new Error(`${param.key} is not one of the parameters ${file} was opened for`);
      const rows = param.shape[0] ?? 1;
      if (!(Number.isInteger(rowStart) && Number.isInteger(rowEnd) && 0 <= rowStart && rowStart <= rowEnd && rowEnd <= rows)) {
        throw new Error(`rows [${rowStart}, ${rowEnd}) out of range for ${param.key} with ${rows} rows`);
      }
      const rowElems = param.shape.slice(1).reduce((a, b) => a * b, 1);
      const count = (rowEnd - rowStart) * rowElems;
      if (!('tensor' in w)) return new Float32Array(count).fill(w.fill);
      const out = w.tensor.read(rowStart * rowElems, count);
      if (out.length !== count) throw new Error(`${w.tensor.origin} gave ${out.length} values for rows [${rowStart}, ${rowEnd}) of ${param.key}`);
      if (!opts.allowNonfinite) {
        for (let i = 0; i < out.length; i++) {
          if (!Number.isFinite(out[i])) {
            fail(`tensor ${JSON.stringify(w.tensor.origin)} (${param.key}) has ${out[i]} at index [${unravel(rowStart * rowElems + i, param.shape).join(', ')}] (use --allow-nonfinite to accept it)`);
          }
        }
      }
      return out;
    },
    close() {
      if (!closed) close();
      closed = true;
    },
  };
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
