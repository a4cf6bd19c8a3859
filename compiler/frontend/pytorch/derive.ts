/**
 * A VGG's structure from its state_dict keys alone (no config file), for the two layouts vggc knows:
 *
 * - torchvision: `features.N.*` is nn.Sequential(Conv2d, [BatchNorm2d,] ReLU, …, MaxPool2d, …), so a
 *   conv at N has its ReLU at N+1 (N+2 after a BatchNorm at N+1), and a MaxPool adds one index: a
 *   block ends where the gap to the next conv grows by one, and the last block ends with a pool (as
 *   torchvision's features always does). AdaptiveAvgPool2d((k, k)) has no parameters; k comes from
 *   the first Linear's in_features = channels · k².
 * - the seed notebook: `conv_backbone.features.B.conv_block.J.*`, blocks explicit, and the map
 *   flattened directly, so the input side follows from in_features = channels · h² with h · 2^blocks.
 *
 * Both end in `classifier.K.*`: Linear layers in index order, where a gap of one index means no ReLU
 * between two layers and a larger gap means ReLU (+ Dropout).
 */
import * as path from 'node:path';
import type { ImportedBatchNorm, ImportedConv, ImportedLinear, ImportedNetwork, StoredTensor } from '../imported.js';
import { failIn } from './file-bytes.js';

/** torch's BatchNorm2d default; a state_dict does not record ε. */
const TORCH_BN_EPS = 1e-5;

type Module = Map<string, StoredTensor>;
interface ConvAt {
  readonly index: number;
  readonly conv: ImportedConv;
  readonly inChannels: number;
  readonly outChannels: number;
}

const TORCHVISION_HINT = 'not a VGG (expected features.N.* and classifier.K.* as in torchvision)';
const NOTEBOOK_HINT = 'not a VGG (expected conv_backbone.features.B.conv_block.J.* and classifier.K.* as in the seed notebook)';

export function deriveNetwork(file: string, tensors: ReadonlyMap<string, StoredTensor>, name = path.basename(file, path.extname(file))): ImportedNetwork {
  const fail = (m: string): never => failIn(file, m);
  const keys = [...tensors.keys()];
  const notebook = keys.some((k) => k.startsWith('conv_backbone.'));
  const hint = notebook ? NOTEBOOK_HINT : TORCHVISION_HINT;
  const features = new Map<number, Module>();
  const blockModules = new Map<number, Map<number, Module>>();
  const classifier = new Map<number, Module>();
  const add = (into: Map<number, Module>, index: string, param: string, t: StoredTensor): void => {
    const i = Number(index);
    if (!into.has(i)) into.set(i, new Map());
    into.get(i)!.set(param, t);
  };
  for (const [key, t] of tensors) {
    let m: RegExpMatchArray | null;
    if ((m = /^classifier\.(0|[1-9]\d{0,5})\.(\w+)$/.exec(key))) add(classifier, m[1], m[2], t);
    else if (!notebook && (m = /^features\.(0|[1-9]\d{0,5})\.(\w+)$/.exec(key))) add(features, m[1], m[2], t);
    else if (notebook && (m = /^conv_backbone\.features\.(0|[1-9]\d{0,5})\.conv_block\.(0|[1-9]\d{0,5})\.(\w+)$/.exec(key))) {
      const b = Number(m[1]);
      if (!blockModules.has(b)) blockModules.set(b, new Map());
      add(blockModules.get(b)!, m[2], m[3], t);
    } else fail(`unexpected tensor ${key}: ${hint}`);
  }

  let convs: ConvAt[];
  let blocks: [number, number, number][];
  if (notebook) {
    ({ convs, blocks } = notebookBlocks(blockModules, fail));
  } else {
    convs = convLayers('features.', features, fail);
    blocks = torchvisionBlocks(convs, fail);
  }
  const linears = classifierLayers(classifier, fail);
  const channels = convs[convs.length - 1].outChannels;
  const inFeatures = linears[0].weight.shape[1];
  const first = `classifier.${[...classifier.keys()].sort((a, b) => a - b)[0]}.weight`;
  const side = Math.round(Math.sqrt(inFeatures / channels));
  if (inFeatures % channels !== 0 || side * side * channels !== inFeatures) {
    fail(`${first} has in_features ${inFeatures}, which is not the last conv's ${channels} channels × a square map (k × k); pass a config instead`);
  }
  const scale = 2 ** blocks.length;
  return {
    source: file,
    name,
    blocks,
    convs: convs.map((c) => c.conv),
    inputSize: notebook ? [side * scale, side * scale] : null,
    headPool: notebook ? null : { kind: 'avg', size: [side, side] },
    linears,
    finalActivation: 'none',
    preprocessing: null,
    layerNames: new Map(),
  };
}

/** Conv2d and BatchNorm2d modules of one nn.Sequential, in index order, each BatchNorm right after its conv. */
function convLayers(prefix: string, modules: ReadonlyMap<number, Module>, fail: (m: string) => never): ConvAt[] {
  const order = [...modules.keys()].sort((a, b) => a - b);
  const convs: ConvAt[] = [];
  for (let n = 0; n < order.length; n++) {
    const i = order[n];
    const m = modules.get(i)!;
    const weight = m.get('weight');
    if (m.has('running_mean') || m.has('running_var')) fail(`${prefix}${i}.running_mean: BatchNorm2d at ${prefix}${i} does not follow a convolution`);
    if (!weight || weight.shape.length !== 4) {
      const what = weight ? `${prefix}${i}.weight has shape [${weight.shape.join(', ')}]` : `${prefix}${i} has ${[...m.keys()].join(', ')} but no weight`;
      fail(`${what}: expected a Conv2d weight [out, in, 3, 3] or BatchNorm2d vectors`);
    }
    only(m, ['weight', 'bias'], `${prefix}${i}`, fail);
    const [out, inC, kh, kw] = weight!.shape;
    if (kh !== 3 || kw !== 3) fail(`${prefix}${i}.weight has a ${kh}×${kw} kernel; vggc compiles 3×3 convolutions only`);
    const bias = m.get('bias') ?? null;
    if (bias) vector(bias, out, `${prefix}${i}.bias`, fail);
    const prev = convs[convs.length - 1];
    if (prev && inC !== prev.outChannels) fail(`${prefix}${i}.weight has ${inC} input channels but the previous conv (${prefix}${prev.index}) has ${prev.outChannels} outputs`);
    let batchNorm: ImportedBatchNorm | null = null;
    const next = modules.get(i + 1);
    if (next && (next.has('running_mean') || next.has('running_var'))) {
      batchNorm = batchNormAt(`${prefix}${i + 1}`, next, out, fail);
      n++;
    }
    convs.push({ index: i, conv: { weight: weight!, bias, batchNorm }, inChannels: inC, outChannels: out });
  }
  if (convs.length === 0) fail(`no convolution tensors (${prefix}N.weight): ${prefix === 'features.' ? TORCHVISION_HINT : NOTEBOOK_HINT}`);
  return convs;
}

function batchNormAt(name: string, m: Module, channels: number, fail: (m: string) => never): ImportedBatchNorm {
  only(m, ['weight', 'bias', 'running_mean', 'running_var'], name, fail);
  const get = (p: string, required: boolean): StoredTensor | null => {
    const t = m.get(p);
    if (!t) return required ? fail(`BatchNorm2d ${name} has no ${name}.${p}`) : null;
    return vector(t, channels, `${name}.${p}`, fail);
  };
  return { weight: get('weight', false), bias: get('bias', false), runningMean: get('running_mean', true)!, runningVar: get('running_var', true)!, eps: TORCH_BN_EPS };
}

/** Blocks from the index gaps: conv[, bn], relu = 2 or 3 indices per conv, plus 1 where a MaxPool sits. */
function torchvisionBlocks(convs: readonly ConvAt[], fail: (m: string) => never): [number, number, number][] {
  const blocks: [number, number, number][] = [];
  let blockStart = 0;
  for (let n = 0; n < convs.length; n++) {
    const c = convs[n];
    const next = convs[n + 1];
    const step = c.conv.batchNorm ? 3 : 2;
    if (next && next.index - c.index === step) continue;
    if (next && next.index - c.index !== step + 1) {
      fail(`features.${next.index}.weight follows the conv at features.${c.index} after ${next.index - c.index} indices; torchvision's make_layers puts the next conv ${step} (or ${step + 1} after a MaxPool2d) indices later`);
    }
    blocks.push(block(convs.slice(blockStart, n + 1), 'features.', fail));
    blockStart = n + 1;
  }
  return blocks;
}

function notebookBlocks(modules: ReadonlyMap<number, Map<number, Module>>, fail: (m: string) => never): { convs: ConvAt[]; blocks: [number, number, number][] } {
  const convs: ConvAt[] = [];
  const blocks: [number, number, number][] = [];
  const count = modules.size;
  for (let b = 0; b < count; b++) {
    const prefix = `conv_backbone.features.${b}.conv_block.`;
    const m = modules.get(b);
    if (!m) return fail(`no tensors for block conv_backbone.features.${b} (blocks must be numbered 0 to ${count - 1})`);
    const inBlock = convLayers(prefix, m, fail);
    if (convs.length && inBlock[0].inChannels !== convs[convs.length - 1].outChannels) {
      fail(`${prefix}${inBlock[0].index}.weight has ${inBlock[0].inChannels} input channels but block ${b - 1} ends with ${convs[convs.length - 1].outChannels}`);
    }
    inBlock.forEach((c, n) => {
      const expected = n === 0 ? 0 : inBlock[n - 1].index + (inBlock[n - 1].conv.batchNorm ? 3 : 2);
      if (c.index !== expected) fail(`${prefix}${c.index}.weight is at index ${c.index}; the notebook's ConvBlock puts this conv at ${expected}`);
    });
    blocks.push(block(inBlock, prefix, fail));
    convs.push(...inBlock);
  }
  return { convs, blocks };
}

/** One (in_channels, num_conv_layers, num_features) block: every conv in it has the same width. */
function block(convs: readonly ConvAt[], prefix: string, fail: (m: string) => never): [number, number, number] {
  const width = convs[0].outChannels;
  const odd = convs.find((c) => c.outChannels !== width);
  if (odd) fail(`${prefix}${odd.index}.weight has ${odd.outChannels} outputs but ${prefix}${convs[0].index} in the same block has ${width}; vggc's blocks have one width`);
  return [convs[0].inChannels, convs.length, width];
}

/** The Linear layers in index order; a ReLU sits between two of them when their indices differ by more than one. */
function classifierLayers(modules: ReadonlyMap<number, Module>, fail: (m: string) => never): ImportedLinear[] {
  const order = [...modules.keys()].sort((a, b) => a - b);
  if (order.length === 0) fail('no classifier tensors (classifier.K.weight, as in torchvision)');
  const linears: ImportedLinear[] = [];
  order.forEach((k, n) => {
    const m = modules.get(k)!;
    only(m, ['weight', 'bias'], `classifier.${k}`, fail);
    const weight = m.get('weight');
    if (!weight) return fail(`classifier.${k} has a bias but no classifier.${k}.weight`);
    if (weight.shape.length !== 2) fail(`classifier.${k}.weight has shape [${weight.shape.join(', ')}]; expected a Linear weight [out, in]`);
    const [out, inF] = weight.shape;
    const bias = m.get('bias') ?? null;
    if (bias) vector(bias, out, `classifier.${k}.bias`, fail);
    if (n > 0) {
      const prev = linears[n - 1].weight.shape[0];
      if (inF !== prev) fail(`classifier.${k}.weight has in_features ${inF} but classifier.${order[n - 1]} has ${prev} outputs`);
    }
    const next = order[n + 1];
    linears.push({ weight, bias, relu: next !== undefined && next - k >= 2 });
  });
  return linears;
}

function vector(t: StoredTensor, n: number, name: string, fail: (m: string) => never): StoredTensor {
  if (t.shape.length !== 1 || t.shape[0] !== n) fail(`${name} has shape [${t.shape.join(', ')}], expected [${n}]`);
  return t;
}

function only(m: Module, allowed: readonly string[], name: string, fail: (m: string) => never): void {
  for (const p of m.keys()) if (!allowed.includes(p)) fail(`unexpected tensor ${name}.${p}: ${name} holds ${allowed.join('/')} only in a VGG`);
}
