/**
 * The compiler's model input, whatever file the user has: one call for the pipeline, the CLI and
 * `vggc summary`.
 *
 *   config JSON          the network from the config; weights from --weights (.safetensors or a
 *                        PyTorch checkpoint, matched by key) or seeded random weights
 *   model.onnx           config and weights from the ONNX graph (onnx/)
 *   .pth / .pt / .bin    a PyTorch state_dict or training checkpoint (pytorch/): the network derived
 *                        from its keys, weights paired by position
 *   model.json (TF.js)   a TensorFlow.js LayersModel (tfjs/): the network from its topology
 *   .safetensors         derived from its keys, like a checkpoint
 *
 * A model file gives its own weights, so --weights goes with a config JSON only. --input-size and
 * --preprocessing override what a model file implies.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { readConfigFile, validateConfig } from './config/parse.js';
import type { VggConfig } from './config/config.js';
import { buildGraph, type ParamTensor } from '../graph/graph.js';
import type { WeightSource } from '../weights/source.js';
import { VggcError } from '../errors.js';
import { importOnnx } from './onnx/import.js';
import { readTorchFile } from './pytorch/checkpoint.js';
import { deriveNetwork } from './pytorch/derive.js';
import { importTfjsModel } from './tfjs/import.js';
import { openSafetensors, safetensorsTensors } from './safetensors/read.js';
import type { ImportedNetwork, StoredTensor } from './imported.js';
import { configJson } from './config/config-json.js';
import { networkConfig, pairByKey, pairByPosition, pairedSource, type NetworkOverrides, type PairedTensor, type PairingOptions } from './network.js';

export { importOnnx, type OnnxImport, type OnnxWeightOptions } from './onnx/import.js';

/** Which front end read the model. */
export type ModelFormat = 'config' | 'onnx' | 'pytorch' | 'tfjs' | 'safetensors';

export interface ModelInput {
  readonly format: ModelFormat;
  readonly config: VggConfig;
  /** The model's own weights (model files), or --weights / seeded random weights (a config: null). */
  readonly openWeights: ((params: readonly ParamTensor[], opts?: PairingOptions) => WeightSource) | null;
  /** The source's own layer names → vggc's conventional names (Keras: block4_conv3 → relu4_3). */
  readonly layerNames: ReadonlyMap<string, string>;
}

export interface ModelInputOptions extends NetworkOverrides {
  /** --weights: only with a config JSON. */
  readonly weightsPath?: string;
}

export const isOnnxPath = (file: string): boolean => /\.onnx$/i.test(file);
const PYTORCH_EXTENSIONS = ['.pth', '.pt', '.bin', '.ckpt', '.tar'];

/** What `file` is, by its extension and (for .json) its content. */
export function modelFormat(file: string): ModelFormat {
  const ext = extname(file).toLowerCase();
  if (ext === '.onnx') return 'onnx';
  if (ext === '.safetensors') return 'safetensors';
  if (PYTORCH_EXTENSIONS.includes(ext)) return 'pytorch';
  if (ext === '.json') return looksLikeTfjs(file) ? 'tfjs' : 'config';
  // No telling extension: a zip or a pickle is a PyTorch checkpoint, anything else a config.
  const head = firstBytes(file, 4);
  if (head && ((head[0] === 0x50 && head[1] === 0x4b) || head[0] === 0x80)) return 'pytorch';
  return 'config';
}

export function readModelInput(file: string, opts: ModelInputOptions = {}): ModelInput {
  if (isFolder(file)) throw new VggcError(`${file} is a folder; expected a model file: a config JSON, .pth/.pt/.bin, a TF.js model.json, .onnx or .safetensors (a folder vggc compiled is what run, predict, bench and summary take)`);
  const format = modelFormat(file);
  if (format === 'config' && looksLikeCompiledManifest(file)) {
    throw new VggcError(`${file}: is the model.json of a folder vggc compiled, not a model file; vggc summary takes that folder, and a compile takes the model file it was compiled from`);
  }
  if (format === 'config') {
    if (opts.inputSize || opts.preprocessing || opts.outputs || opts.outputLayout) return configWithOverrides(file, opts);
    return { format, config: readConfigFile(file), openWeights: null, layerNames: new Map() };
  }
  if (opts.weightsPath) throw new VggcError(`${file}: ${OWN_WEIGHTS[format]}; do not pass --weights (${opts.weightsPath})`);
  if (format === 'onnx') {
    if (opts.inputSize) throw new VggcError(`${file}: an ONNX model is exported for one input size; --input-size cannot change it (export again with an example input of that size)`);
    const imported = importOnnx(file, opts);
    if (opts.outputs || opts.outputLayout) return { format, config: validateConfig({ ...configJson(imported.config), ...(opts.outputs ? { outputs: [...opts.outputs] } : {}), ...(opts.outputLayout ? { outputLayout: opts.outputLayout } : {}) }, file), openWeights: imported.source, layerNames: new Map() };
    return { format, config: imported.config, openWeights: imported.source, layerNames: new Map() };
  }
  if (format === 'tfjs') {
    const net = importTfjsModel(file);
    return fromNetwork(format, file, net, opts, () => net.close());
  }
  const torch = format === 'pytorch' ? readTorchFile(file) : null;
  const opened = torch ?? safetensorsTensors(file);
  try {
    const input = fromNetwork(format, file, deriveNetwork(file, opened.tensors), opts, () => opened.close());
    if (!torch) return input;
    // A compile reads every weight: check a checkpoint's data against its CRC-32s first (a summary does not).
    const open = input.openWeights!;
    return { ...input, openWeights: (params, o) => (torch.verifyData(), open(params, o)) };
  } catch (e) {
    opened.close();
    throw e;
  }
}

/**
 * The weights a config is compiled with: --weights (a .safetensors, or a PyTorch checkpoint whose
 * keys are torchvision's or the seed notebook's), matched by key; mismatches name the tensor.
 */
export function openConfigWeights(weightsPath: string, params: readonly ParamTensor[], opts: PairingOptions & { ignoredKeys?: readonly string[] }): WeightSource {
  const format = modelFormat(weightsPath);
  const other = format === 'onnx' ? 'an ONNX model' : format === 'tfjs' ? 'a TensorFlow.js model' : extname(weightsPath).toLowerCase() === '.json' ? 'a JSON file' : extname(weightsPath).toLowerCase() === '.npy' ? 'a .npy array' : null;
  if (other) {
    const own = format === 'onnx' || format === 'tfjs' ? `, which carries its own network: compile it without a config (vggc compile ${weightsPath})` : '';
    throw new VggcError(`${weightsPath}: is ${other}${own}; --weights takes a .safetensors file or a PyTorch checkpoint`);
  }
  if (format !== 'pytorch') return openSafetensors(weightsPath, params, opts);
  const file = readTorchFile(weightsPath);
  try {
    const fail = (m: string): never => {
      throw new VggcError(`${weightsPath}: ${m}`);
    };
    const pairs = pairByKey(file.tensors, params, fail, new Set(opts.ignoredKeys ?? []));
    file.verifyData();
    return pairedSource(weightsPath, pairs, params, opts, () => file.close());
  } catch (e) {
    file.close();
    throw e;
  }
}

const OWN_WEIGHTS: Record<Exclude<ModelFormat, 'config'>, string> = {
  onnx: 'an ONNX model carries its own weights (its initializers)',
  pytorch: 'a PyTorch checkpoint carries its own weights',
  tfjs: 'a TensorFlow.js model carries its own weights (its weight shards)',
  safetensors: 'a .safetensors file compiled without a config carries its own weights',
};

function fromNetwork(format: ModelFormat, file: string, net: ImportedNetwork, opts: NetworkOverrides, close: () => void): ModelInput {
  const fail = (m: string): never => {
    throw new VggcError(`${file}: ${m}`);
  };
  const config = validateConfig(networkConfig(net, opts, fail), `${file} (derived config)`);
  const pairs: Map<string, PairedTensor> = pairByPosition(net, buildGraph(config), fail);
  return { format, config, openWeights: (params, o = {}) => pairedSource(file, pairs, params, o, close), layerNames: net.layerNames };
}

/** A config JSON with --input-size / --preprocessing applied before it is validated. */
function configWithOverrides(file: string, opts: NetworkOverrides): ModelInput {
  const base = readConfigFile(file);
  const raw: Record<string, unknown> = { ...configJson(base) };
  if (opts.inputSize) raw.inputSize = [...opts.inputSize];
  if (opts.preprocessing) raw.preprocessing = opts.preprocessing;
  if (opts.outputs) raw.outputs = [...opts.outputs];
  if (opts.outputLayout) raw.outputLayout = opts.outputLayout;
  return { format: 'config', config: validateConfig(raw, file), openWeights: null, layerNames: new Map() };
}

export function isFolder(file: string): boolean {
  try {
    return statSync(file).isDirectory();
  } catch {
    return false; // a missing file gets its front end's own "cannot read" error
  }
}

function firstBytes(file: string, n: number): Uint8Array | null {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const buf = new Uint8Array(n);
    return buf.subarray(0, readSync(fd, buf, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

/** A TF.js model.json has modelTopology and weightsManifest; a vggc config has neither. */
function looksLikeCompiledManifest(file: string): boolean {
  const head = firstBytes(file, 256);
  return head !== null && /"format"\s*:\s*"vggc-model"/.test(new TextDecoder().decode(head));
}

function looksLikeTfjs(file: string): boolean {
  const head = firstBytes(file, 4096);
  return head !== null && /"(modelTopology|weightsManifest)"\s*:/.test(new TextDecoder().decode(head));
}

export type { StoredTensor };
