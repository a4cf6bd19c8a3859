/**
 * An ImportedNetwork (imported.ts) as the compiler takes it: the config it implies, and its tensors
 * paired by position with the layer graph's own parameters (graph/graph.ts owns torchvision's key
 * numbering; no front end rebuilds it). Shared by every front end that finds the network in a model
 * file instead of a config: ONNX, PyTorch checkpoints, TensorFlow.js models.
 */
import { VggcError } from '../errors.js';
import type { LayerGraph, ParamTensor } from '../graph/graph.js';
import { BATCHNORM_EPS } from '../graph/graph.js';
import { unravel } from './safetensors/read.js';
import type { WeightSource } from '../weights/source.js';
import type { ImportedNetwork, StoredTensor } from './imported.js';

/** A parameter's values: a tensor of the model, or a constant the model leaves out (no bias: 0; no BatchNorm γ: 1). */
export type PairedTensor = { readonly tensor: StoredTensor } | { readonly fill: 0 | 1; readonly origin: string };

export interface PairingOptions {
  /** Load NaN/±Inf values instead of rejecting them. */
  readonly allowNonfinite?: boolean;
}

/** The config fields the network implies (validated by the caller with frontend/config's validateConfig). */
export function networkConfig(net: ImportedNetwork, fail: (msg: string) => never): Record<string, unknown> {
  const bn = net.convs.map((c) => c.batchNorm);
  const eps = bn.find((b) => b && Math.fround(b.eps) !== Math.fround(BATCHNORM_EPS));
  if (eps) fail(`BatchNorm ε is ${eps.eps}; vggc folds BatchNorm with torch's default ε = 1e-5 only`);
  if (net.headPool && net.headPool.kind !== 'avg') fail(`the head pools by ${net.headPool.kind}; vggc supports an adaptive average pool before the classifier`);
  if (net.finalActivation !== 'none') fail(`the last layer applies ${net.finalActivation}; vggc's classifier ends with a Linear layer`);
  if (net.linears.some((l, i) => l.relu !== i < net.linears.length - 1)) fail('a hidden fully-connected layer has no ReLU; vggc hidden layers are Linear + ReLU');
  const widths = net.linears.map((l) => l.weight.shape[0]);
  return {
    name: net.name.slice(0, 200) || 'model',
    blocks: net.blocks.map((b) => [...b]),
    ...(net.inputSize ? { inputSize: [...net.inputSize] } : {}),
    batchNorm: bn.some((b) => b !== null),
    avgPool: net.headPool ? [...net.headPool.size] : null,
    classifier: widths.slice(0, -1),
    numClasses: widths[widths.length - 1],
  };
}

/**
 * Every parameter of `graph` paired with the network's tensor in the same position: the i-th
 * convolution's weight and bias (and its BatchNorm's), then the k-th fully-connected layer's.
 */
export function pairByPosition(net: ImportedNetwork, graph: LayerGraph, fail: (msg: string) => never): Map<string, PairedTensor> {
  const pairs = new Map<string, PairedTensor>();
  const put = (p: ParamTensor, t: StoredTensor | null, fill: 0 | 1, missing: string): void => void pairs.set(p.key, t ? { tensor: t } : { fill, origin: missing });
  let conv = 0;
  let linear = 0;
  for (const op of graph.ops) {
    if (op.kind === 'conv3x3') {
      const c = net.convs[conv++];
      if (!c) return fail(`the model has ${net.convs.length} convolutions, the config ${conv} or more`);
      put(op.weight, c.weight, 0, '');
      put(op.bias, c.bias, 0, 'zeros (no bias in the model)');
    } else if (op.kind === 'batchnorm2d') {
      const b = net.convs[conv - 1]?.batchNorm;
      if (!b) return fail(`convolution ${conv} of the model has no BatchNorm, but the config has batchNorm true`);
      put(op.weight, b.weight, 1, 'ones (no BatchNorm scale in the model)');
      put(op.bias, b.bias, 0, 'zeros (no BatchNorm shift in the model)');
      put(op.runningMean, b.runningMean, 0, '');
      put(op.runningVar, b.runningVar, 1, '');
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
