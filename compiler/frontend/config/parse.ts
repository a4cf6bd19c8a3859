/**
 * The config JSON front end: text of a config file → validated VggConfig (validateConfig also checks
 * the configs other front ends derive from a model file).
 * Validation follows the seed notebook (each block's in_channels equals the previous block's
 * num_features; positive integers) plus what the compiler needs (the input survives every pool).
 * Every failure is one VggcError line that starts with the file name and names the field.
 */
import { readFileSync } from 'node:fs';
import { VggcError } from '../../errors.js';
import { jsonErrorOffset } from './json-position.js';
import { CONFIG_DEFAULTS, type Block, type ClassifierLayer, type FinalActivation, type PreprocessingConfig, type VggConfig } from './config.js';
import { isPreset, PREPROCESSING_PRESETS, presetPreprocessing } from './preprocessing.js';

const KNOWN_FIELDS = ['name', 'blocks', 'inputSize', 'batchNorm', 'batchNormEps', 'avgPool', 'maxPool', 'classifier', 'numClasses', 'finalActivation', 'outputs', 'outputLayout', 'labels', 'preprocessing'];
const FINAL_ACTIVATIONS: readonly FinalActivation[] = ['none', 'softmax', 'sigmoid'];
/** Far above any real VGG; keeps every size computation exact in float64 and int32 codegen. */
const MAX_DIMENSION = 65536;
/** VGG-19 has 4 convolutions per block and 5 blocks; these limits leave room and keep compiles fast. */
const MAX_BLOCKS = 16;
const MAX_CONVS_PER_BLOCK = 64;
const MAX_CLASSIFIER_LAYERS = 16;
const MAX_OUTPUTS = 64;

export function readConfigFile(path: string): VggConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new VggcError(`${path}: cannot read the config file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  return parseConfig(text, path);
}

export function parseConfig(text: string, file = 'config.json'): VggConfig {
  return validateConfig(parseJson(text, file), file);
}

/**
 * A config as a plain value (parsed JSON, or the object a model-file front end derives) → validated
 * VggConfig; `file` starts every message.
 */
export function validateConfig(raw: unknown, file: string): VggConfig {
  const fail = (msg: string): never => {
    throw new VggcError(`${file}: ${msg}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(`expected a JSON object with a "blocks" field, found ${describe(raw)}`);
  const obj = raw as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    if (!KNOWN_FIELDS.includes(key)) fail(`unknown field ${JSON.stringify(key)} (known fields: ${KNOWN_FIELDS.join(', ')})`);
  }

  const name = obj.name === undefined ? defaultName(file) : obj.name;
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) fail(`name must be a non-empty string of at most 200 characters, found ${describe(name)}`);

  if (obj.blocks === undefined) fail('blocks is required: a list of [in_channels, num_conv_layers, num_features]');
  if (!Array.isArray(obj.blocks) || obj.blocks.length === 0) fail(`blocks must be a non-empty list of [in_channels, num_conv_layers, num_features], found ${describe(obj.blocks)}`);
  if ((obj.blocks as unknown[]).length > MAX_BLOCKS) fail(`blocks has ${(obj.blocks as unknown[]).length} blocks; vggc supports at most ${MAX_BLOCKS}`);
  const blocks: Block[] = (obj.blocks as unknown[]).map((b, i) => {
    if (!Array.isArray(b) || b.length !== 3) fail(`blocks[${i}] must be [in_channels, num_conv_layers, num_features], found ${describe(b)}`);
    const arr = b as unknown[];
    const fieldNames = ['in_channels', 'num_conv_layers', 'num_features'];
    arr.forEach((v, j) => positiveInt(v, `blocks[${i}][${j}] (${fieldNames[j]})`, fail));
    if ((arr[1] as number) > MAX_CONVS_PER_BLOCK) fail(`blocks[${i}][1] (num_conv_layers) is ${arr[1]}; vggc supports at most ${MAX_CONVS_PER_BLOCK} per block`);
    return [arr[0], arr[1], arr[2]] as unknown as Block;
  });
  blocks.forEach((b, i) => {
    if (i > 0 && b[0] !== blocks[i - 1][2]) fail(`blocks[${i}][0] is ${b[0]} but blocks[${i - 1}] outputs ${blocks[i - 1][2]} features`);
  });

  const inputSize = obj.inputSize === undefined ? CONFIG_DEFAULTS.inputSize : pair(obj.inputSize, 'inputSize', '[height, width]', fail);
  const minSide = 2 ** blocks.length;
  if (inputSize[0] < minSide || inputSize[1] < minSide) {
    fail(`inputSize [${inputSize[0]}, ${inputSize[1]}] is too small: ${blocks.length} blocks halve it ${blocks.length} times, so it must be at least [${minSide}, ${minSide}]`);
  }

  const batchNorm = obj.batchNorm === undefined ? CONFIG_DEFAULTS.batchNorm : obj.batchNorm;
  if (typeof batchNorm !== 'boolean') fail(`batchNorm must be true or false, found ${describe(batchNorm)}`);

  const batchNormEps = obj.batchNormEps === undefined ? CONFIG_DEFAULTS.batchNormEps : obj.batchNormEps;
  if (typeof batchNormEps !== 'number' || !(batchNormEps > 0 && batchNormEps < 1)) fail(`batchNormEps must be a number between 0 and 1 (torch's default 1e-5, Keras's 1e-3), found ${describe(batchNormEps)}`);

  // The default average pool applies only when no max pool is given.
  const maxPool = obj.maxPool === undefined || obj.maxPool === null ? null : pair(obj.maxPool, 'maxPool', '[height, width] or null', fail);
  let avgPool: readonly [number, number] | null;
  if (obj.avgPool === undefined) avgPool = maxPool ? null : CONFIG_DEFAULTS.avgPool;
  else if (obj.avgPool === null) avgPool = null;
  else avgPool = pair(obj.avgPool, 'avgPool', '[height, width] or null', fail);
  if (avgPool && maxPool) fail('avgPool and maxPool are both given; the head has one adaptive pool (set the other to null)');

  const classifier = parseClassifier(obj.classifier === undefined ? CONFIG_DEFAULTS.classifier : obj.classifier, fail);

  const numClasses = obj.numClasses === undefined ? CONFIG_DEFAULTS.numClasses : obj.numClasses;
  positiveInt(numClasses, 'numClasses', fail);
  const finalActivation = obj.finalActivation === undefined ? CONFIG_DEFAULTS.finalActivation : obj.finalActivation;
  if (!FINAL_ACTIVATIONS.includes(finalActivation as FinalActivation)) fail(`finalActivation must be one of ${FINAL_ACTIVATIONS.map((a) => `"${a}"`).join(', ')}, found ${describe(finalActivation)}`);

  const outputs = obj.outputs === undefined || obj.outputs === null ? null : parseOutputs(obj.outputs, fail);
  const outputLayout = obj.outputLayout === undefined ? 'nchw' : obj.outputLayout;
  if (outputLayout !== 'nchw' && outputLayout !== 'nhwc') fail(`outputLayout must be "nchw" (PyTorch's) or "nhwc" (TF.js's), found ${describe(outputLayout)}`);
  const labels = obj.labels === undefined || obj.labels === null ? null : parseLabels(obj.labels, numClasses as number, 'labels', fail);
  const channels = blocks[0][0];
  const preprocessing = obj.preprocessing === undefined || obj.preprocessing === null ? null : parsePreprocessing(obj.preprocessing, channels, inputSize, fail);

  return {
    name: name as string,
    blocks,
    inputSize,
    batchNorm: batchNorm as boolean,
    batchNormEps: batchNormEps as number,
    avgPool,
    maxPool,
    classifier,
    numClasses: numClasses as number,
    finalActivation: finalActivation as FinalActivation,
    outputs,
    outputLayout: outputLayout as 'nchw' | 'nhwc',
    labels,
    preprocessing,
  };
}

/** Output names: non-empty strings, each once (which layers they name is checked against the network). */
export function parseOutputs(v: unknown, fail: (m: string) => never): string[] {
  if (!Array.isArray(v) || v.length === 0) fail(`outputs must be a non-empty list of layer names such as ["relu4_3", "fc7"], found ${describe(v)}`);
  const arr = v as unknown[];
  if (arr.length > MAX_OUTPUTS) fail(`outputs lists ${arr.length} layers; vggc supports at most ${MAX_OUTPUTS}`);
  arr.forEach((n, i) => {
    if (typeof n !== 'string' || n.length === 0 || n.length > 200) fail(`outputs[${i}] must be a layer name, found ${describe(n)}`);
    if (arr.indexOf(n) !== i) fail(`outputs[${i}] ${JSON.stringify(n)} is listed twice`);
  });
  return arr as string[];
}

/** Hidden layers: a width (Linear + ReLU + Dropout, as torchvision's) or `{ "features": N, "relu": false }`. */
function parseClassifier(v: unknown, fail: (m: string) => never): ClassifierLayer[] {
  if (!Array.isArray(v)) fail(`classifier must be a list of hidden layer widths such as [4096, 4096], found ${describe(v)}`);
  const arr = v as unknown[];
  if (arr.length > MAX_CLASSIFIER_LAYERS) fail(`classifier has ${arr.length} hidden layers; vggc supports at most ${MAX_CLASSIFIER_LAYERS}`);
  return arr.map((layer, i) => {
    if (typeof layer === 'number') return { features: positiveInt(layer, `classifier[${i}]`, fail), relu: true };
    if (typeof layer !== 'object' || layer === null || Array.isArray(layer)) fail(`classifier[${i}] must be a width or {"features": N, "relu": true|false}, found ${describe(layer)}`);
    const l = layer as Record<string, unknown>;
    for (const key of Object.keys(l)) if (key !== 'features' && key !== 'relu') fail(`unknown field "classifier[${i}].${key}" (known: features, relu)`);
    const relu = l.relu === undefined ? true : l.relu;
    if (typeof relu !== 'boolean') fail(`classifier[${i}].relu must be true or false, found ${describe(relu)}`);
    return { features: positiveInt(l.features, `classifier[${i}].features`, fail), relu: relu as boolean };
  });
}

/** Class names: exactly numClasses non-empty strings (also used for `--labels FILE`). */
export function parseLabels(v: unknown, numClasses: number, field: string, fail: (m: string) => never): string[] {
  if (!Array.isArray(v)) fail(`${field} must be a list of ${numClasses} class names, found ${describe(v)}`);
  const arr = v as unknown[];
  if (arr.length !== numClasses) fail(`${field} has ${arr.length} names but the model has ${numClasses} classes`);
  arr.forEach((l, i) => {
    if (typeof l !== 'string' || l.length === 0 || l.length > 200) fail(`${field}[${i}] must be a non-empty string of at most 200 characters, found ${describe(l)}`);
  });
  return arr as string[];
}

const PREPROCESSING_FIELDS = ['resize', 'mean', 'std', 'channelOrder', 'pixelRange'];

function parsePreprocessing(v: unknown, channels: number, inputSize: readonly [number, number], fail: (m: string) => never): PreprocessingConfig {
  if (isPreset(v)) return presetPreprocessing(v, channels, inputSize, fail);
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`preprocessing must be ${PREPROCESSING_PRESETS.map((p) => `"${p}"`).join(', ')} or an object with resize, mean and std, found ${describe(v)}`);
  const p = v as Record<string, unknown>;
  for (const key of Object.keys(p)) if (!PREPROCESSING_FIELDS.includes(key)) fail(`unknown field "preprocessing.${key}" (known: ${PREPROCESSING_FIELDS.join(', ')})`);
  const r = p.resize as Record<string, unknown> | undefined;
  let resize: PreprocessingConfig['resize'];
  if (typeof r !== 'object' || r === null || Array.isArray(r) || Object.keys(r).length !== 1) {
    fail(`preprocessing.resize must be {"shorterSide": N} or {"fit": [height, width]}, found ${describe(r)}`);
  }
  const rr = r as Record<string, unknown>;
  if ('shorterSide' in rr) {
    const side = positiveInt(rr.shorterSide, 'preprocessing.resize.shorterSide', fail);
    if (side < Math.min(inputSize[0], inputSize[1])) fail(`preprocessing.resize.shorterSide is ${side}, smaller than the input it must be cropped to (${inputSize[0]}×${inputSize[1]})`);
    resize = { shorterSide: side };
  } else if ('fit' in rr) {
    const fit = pair(rr.fit, 'preprocessing.resize.fit', '[height, width]', fail);
    if (fit[0] > inputSize[0] || fit[1] > inputSize[1]) fail(`preprocessing.resize.fit [${fit[0]}, ${fit[1]}] is larger than inputSize [${inputSize[0]}, ${inputSize[1]}]`);
    resize = { fit };
  } else {
    fail(`preprocessing.resize must be {"shorterSide": N} or {"fit": [height, width]}, found ${describe(r)}`);
  }
  const perChannel = (x: unknown, field: string, positive: boolean): number[] => {
    if (!Array.isArray(x) || x.length !== channels) fail(`${field} must list ${channels} number(s), one per input channel, found ${describe(x)}`);
    return (x as unknown[]).map((n, i) => {
      if (typeof n !== 'number' || !Number.isFinite(n) || (positive && n <= 0)) fail(`${field}[${i}] must be a ${positive ? 'positive' : 'finite'} number, found ${describe(n)}`);
      return n as number;
    });
  };
  const channelOrder = p.channelOrder === undefined ? 'rgb' : p.channelOrder;
  if (channelOrder !== 'rgb' && channelOrder !== 'bgr') fail(`preprocessing.channelOrder must be "rgb" or "bgr", found ${describe(channelOrder)}`);
  if (channelOrder === 'bgr' && channels !== 3) fail(`preprocessing.channelOrder "bgr" needs 3 input channels; the model takes ${channels}`);
  const range = p.pixelRange === undefined ? [0, 1] : p.pixelRange;
  const rangeOk = Array.isArray(range) && range.length === 2 && range[0] === 0 && (range[1] === 1 || range[1] === 255);
  if (!rangeOk) fail(`preprocessing.pixelRange must be [0, 1] (pixel / 255) or [0, 255] (the pixel as it is), found ${describe(range)}`);
  return {
    resize: resize!,
    mean: perChannel(p.mean, 'preprocessing.mean', false),
    std: perChannel(p.std, 'preprocessing.std', true),
    channelOrder: channelOrder as 'rgb' | 'bgr',
    pixelRange: (range as number[])[1] === 255 ? [0, 255] : [0, 1],
  };
}

function parseJson(text: string, file: string): unknown {
  // Editors on Windows may save a byte-order mark; it is not JSON but not the user's mistake either.
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  try {
    return JSON.parse(body);
  } catch (e) {
    const pos = jsonErrorOffset(body);
    const before = body.slice(0, Math.max(0, pos)).split('\n');
    // V8's own wording when it is specific ("Expected ',' or '}' after property value"); otherwise say what is there.
    const v8 = (e as Error).message.replace(/ in JSON at position \d+.*$/, '');
    const found = pos >= body.length ? 'end of the file' : JSON.stringify(body[pos]);
    const detail = /is not valid JSON|^Unexpected token/.test(v8) ? `unexpected ${found}` : v8;
    throw new VggcError(`${file}: invalid JSON at line ${before.length}, column ${before[before.length - 1].length + 1}: ${detail}`);
  }
}

function positiveInt(v: unknown, field: string, fail: (m: string) => never): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(`${field} must be a positive integer, found ${describe(v)}`);
  if ((v as number) > MAX_DIMENSION) fail(`${field} is ${v}, larger than the supported maximum ${MAX_DIMENSION}`);
  return v as number;
}

function pair(v: unknown, field: string, shape: string, fail: (m: string) => never): readonly [number, number] {
  if (!Array.isArray(v) || v.length !== 2) fail(`${field} must be ${shape}, found ${describe(v)}`);
  const arr = v as unknown[];
  return [positiveInt(arr[0], `${field}[0]`, fail), positiveInt(arr[1], `${field}[1]`, fail)];
}

/** A short, single-line rendering of a JSON value for error messages. */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function defaultName(file: string): string {
  const base = file.split(/[\\/]/).pop() ?? 'model';
  return base.replace(/\.json$/i, '') || 'model';
}
