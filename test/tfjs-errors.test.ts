// What the TF.js reader refuses, and how: every refusal is one line (a VggcError) that starts with
// model.json's path and names the layer (and its class), the weight or the shard file, and what
// vggc expected. Models are built with tfjs-layers where tfjs can build them, otherwise a saved
// model's model.json or shards are edited.
import { appendFileSync, mkdirSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { importTfjsModel } from '../compiler/frontend/tfjs/index.js';
import { isVggcError } from '../compiler/errors.js';
import { saveArtifacts, tfl, useCpuBackend, writeTfjsModel, type Saved, type WriteOptions } from './tfjs-helpers.js';
import { buildVgg } from './tfjs-models.js';
import { tempDir } from './helpers.js';

const work = tempDir('vggc-tfjs-errors-');
let base: Saved;
let counter = 0;

beforeAll(async () => {
  await useCpuBackend();
  base = await saveArtifacts(
    buildVgg({
      name: 'base',
      input: [8, 8, 3],
      blocks: [{ filters: 4, convs: 1 }, { filters: 5, convs: 1, style: 'bn-relu' }],
      head: 'flatten',
      dense: [{ units: 6, activation: 'relu' }, { units: 3, activation: 'softmax' }],
      seed: 21,
    }),
  );
});

/** The base model written with `opts`; returns model.json's path. */
function variant(opts: WriteOptions = {}, saved: Saved = base): string {
  return writeTfjsModel(saved, join(work, `m${counter++}`), { shardBytes: 400, ...opts }).path;
}

/** The base model's layer `name` in model.json, for edits. */
const layerIn = (json: Record<string, any>, name: string) => (json.modelTopology.config.layers as any[]).find((l) => l.config.name === name);

function refusal(path: string): string {
  try {
    importTfjsModel(path);
  } catch (e) {
    expect(isVggcError(e)).toBe(true);
    const msg = (e as Error).message;
    expect(msg).not.toContain('\n');
    expect(msg.startsWith(`${path}: `)).toBe(true);
    return msg.slice(path.length + 2);
  }
  throw new Error(`${path} was imported`);
}

/** A Sequential model of `layers` on an 8×8×3 input, saved. */
async function built(layers: tfl.layers.Layer[]): Promise<string> {
  const model = tfl.sequential({ name: `built${counter}` });
  model.add(tfl.layers.inputLayer({ name: 'input_1', inputShape: [8, 8, 3] }));
  for (const l of layers) model.add(l);
  return variant({}, await saveArtifacts(model));
}
const conv = (extra: Record<string, unknown> = {}) => tfl.layers.conv2d({ name: 'block1_conv1', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', ...extra } as any);
const pool = () => tfl.layers.maxPooling2d({ name: 'block1_pool', poolSize: 2 });
const top = () => [tfl.layers.flatten({ name: 'flatten' }), tfl.layers.dense({ name: 'predictions', units: 3 })];

describe('layers and options vggc cannot honour', () => {
  it('an unsupported layer class', async () => {
    const path = await built([conv(), tfl.layers.averagePooling2d({ name: 'block1_pool', poolSize: 2 }), ...top()]);
    expect(refusal(path)).toMatch(/^layer "block1_pool" \(AveragePooling2D\): vggc does not support this layer class; a VGG is built from InputLayer, Conv2D, /);
  });

  it.each([
    ['kernel 5×5', { kernelSize: 5 }, 'layer "block1_conv1" (Conv2D): kernel_size [5, 5]; vggc supports 3×3 only'],
    ['strides 2', { strides: 2 }, 'layer "block1_conv1" (Conv2D): strides [2, 2]; vggc supports strides 1 only'],
    ['dilation 2', { dilationRate: 2 }, 'layer "block1_conv1" (Conv2D): dilation_rate [2, 2]; vggc supports dilation 1 only'],
    ['padding valid', { padding: 'valid' }, `layer "block1_conv1" (Conv2D): padding "valid"; vggc supports padding 'same' only`],
    ['activation tanh', { activation: 'tanh' }, `layer "block1_conv1" (Conv2D): activation "tanh"; vggc supports 'relu' or 'linear' (then BatchNormalization and/or ReLU) only`],
  ])('Conv2D with %s', async (_, extra, message) => {
    expect(refusal(await built([conv(extra), pool(), ...top()]))).toBe(message);
  });

  it.each([
    ['data_format channels_first', (l: any) => (l.config.data_format = 'channels_first'), 'block1_conv1', 'layer "block1_conv1" (Conv2D): data_format "channels_first"; vggc supports data_format "channels_last" only'],
    ['a 3×3 max-pool', (l: any) => (l.config.pool_size = [3, 3]), 'block1_pool', 'layer "block1_pool" (MaxPooling2D): pool_size [3, 3]; vggc supports 2×2 pools only'],
    ['BatchNormalization over axis 1', (l: any) => (l.config.axis = 1), 'block2_bn1', 'layer "block2_bn1" (BatchNormalization): axis 1; vggc supports the channel axis (-1 or 3) only'],
    ['ReLU(max_value 6)', (l: any) => (l.config.max_value = 6), 'block2_relu1', 'layer "block2_relu1" (ReLU): max_value 6; vggc supports a plain ReLU (max_value null) only'],
    ['Flatten channels_first', (l: any) => (l.config.data_format = 'channels_first'), 'flatten', 'layer "flatten" (Flatten): data_format "channels_first"; vggc supports data_format "channels_last" only'],
    ['Dense(tanh)', (l: any) => (l.config.activation = 'tanh'), 'fc1', `layer "fc1" (Dense): activation "tanh"; vggc supports 'relu', 'linear', 'softmax' or 'sigmoid' only`],
    ['softmax on a hidden Dense', (l: any) => (l.config.activation = 'softmax'), 'fc1', `layer "fc1" (Dense): has activation 'softmax' but is not the last Dense layer; vggc supports softmax and sigmoid on the last Dense only`],
    ['relu on the last Dense', (l: any) => (l.config.activation = 'relu'), 'predictions', `layer "predictions" (Dense): is the last Dense layer and has activation 'relu'; vggc's last layer gives logits ('linear', 'softmax' or 'sigmoid')`],
  ])('%s', (_, edit, layer, message) => {
    expect(refusal(variant({ edit: (json) => edit(layerIn(json, layer)) }))).toBe(message);
  });

  it.each([
    ['BatchNormalization after a ReLU conv', () => [conv(), tfl.layers.batchNormalization({ name: 'bn' }), pool(), ...top()], /^layer "bn" \(BatchNormalization\): follows "block1_conv1", whose activation is 'relu'; vggc folds BatchNormalization/],
    ['a linear conv without ReLU', () => [conv({ activation: 'linear' }), pool(), ...top()], /^layer "block1_conv1" \(Conv2D\): has activation 'linear' and is not followed by ReLU \(Activation\('relu'\) or ReLU\); vggc's convolutions end in ReLU$/],
    ['a BatchNormalization without ReLU', () => [conv({ activation: 'linear' }), tfl.layers.batchNormalization({ name: 'bn' }), pool(), ...top()], /^layer "bn" \(BatchNormalization\): is not followed by ReLU/],
    ['a conv not closed by a max-pool', () => [conv(), ...top()], /^layer "block1_conv1" \(Conv2D\): is not followed by a MaxPooling2D; every convolution belongs to a block that ends with a 2×2 max-pool$/],
    ['two widths in one block', () => [conv(), conv({ name: 'block1_conv2', filters: 8 }), pool(), ...top()], /^layer "block1_conv2" \(Conv2D\): filters 8 differ from 4 of "block1_conv1", the first convolution of block 1; vggc's blocks have one width$/],
    ['Dense straight after the last pool', () => [conv(), pool(), tfl.layers.dense({ name: 'predictions', units: 3 })], /^layer "predictions" \(Dense\): sees the 4-D map of the last block; put Flatten, GlobalAveragePooling2D or GlobalMaxPooling2D before the first Dense$/],
    ['no Dense at all', () => [conv(), pool(), tfl.layers.globalAveragePooling2d({ name: 'avg_pool' })], /^the model ends after "avg_pool" with no Dense layer/],
    ['an Activation after a ReLU conv', () => [conv(), tfl.layers.activation({ name: 'act', activation: 'relu' }), pool(), ...top()], /^layer "act" \(Activation\): is not right after a Conv2D with activation 'linear'/],
  ])('%s', async (_, layers, message) => {
    expect(refusal(await built(layers()))).toMatch(message);
  });

  it('GlobalAveragePooling2D(keepdims: true); Flatten of an input without a fixed size', () => {
    const gap = variant({
      edit: (json) => {
        const l = layerIn(json, 'flatten');
        l.class_name = 'GlobalAveragePooling2D';
        l.config.keepdims = true;
      },
    });
    expect(refusal(gap)).toBe('layer "flatten" (GlobalAveragePooling2D): keepdims true; vggc supports keepdims false only (a Dense layer must see a vector)');
    const open = variant({ edit: (json) => (layerIn(json, 'input_1').config.batch_input_shape = [null, null, null, 3]) });
    expect(refusal(open)).toBe('layer "flatten" (Flatten): flattens a map whose size is not fixed; the InputLayer must give the input height and width');
  });
});

describe('topologies that are not a chain', () => {
  it('a branch: two convolutions on one input, added', async () => {
    const input = tfl.input({ shape: [8, 8, 3], name: 'input_1' });
    const a = tfl.layers.conv2d({ name: 'block1_conv1', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
    const b1 = tfl.layers.conv2d({ name: 'left', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(a) as tfl.SymbolicTensor;
    const b2 = tfl.layers.conv2d({ name: 'right', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(a) as tfl.SymbolicTensor;
    const sum = tfl.layers.add({ name: 'add' }).apply([b1, b2]) as tfl.SymbolicTensor;
    const out = tfl.layers.dense({ name: 'predictions', units: 2 }).apply(tfl.layers.flatten({ name: 'flatten' }).apply(tfl.layers.maxPooling2d({ name: 'block1_pool', poolSize: 2 }).apply(sum)) as tfl.SymbolicTensor);
    const path = variant({}, await saveArtifacts(tfl.model({ name: 'branchy', inputs: input, outputs: out as tfl.SymbolicTensor })));
    expect(refusal(path)).toBe('layer "add" (Add): takes 2 inputs ("left", "right"); vggc reads a plain chain of layers, no branches');
    // Without the Add (the model has two outputs, only one listed), the fork itself is named.
    const fork = variant({
      edit: (json) => {
        const layers = json.modelTopology.config.layers as any[];
        layers.splice(layers.findIndex((l) => l.name === 'add'), 1);
        layers.find((l) => l.name === 'block1_pool').inbound_nodes = [[['left', 0, 0, {}]]];
      },
    }, await saveArtifacts(tfl.model({ name: 'branchy2', inputs: input, outputs: out as tfl.SymbolicTensor })));
    expect(refusal(fork)).toBe('layer "block1_conv1" (Conv2D): feeds 2 layers ("left", "right"); vggc reads a plain chain of layers, no branches');
  });

  const functional = () => saveArtifacts(buildVgg({ name: 'f', input: [8, 8, 3], blocks: [{ filters: 4, convs: 2 }], head: 'flatten', dense: [{ units: 3, activation: 'linear' }], functional: true, seed: 22 }));

  it('a layer with two inputs; a shared layer; a layer off the chain', async () => {
    const saved = await functional();
    const twoInputs = variant({ edit: (json) => layerIn(json, 'block1_conv2').inbound_nodes[0].push(['input_1', 0, 0, {}]) }, saved);
    expect(refusal(twoInputs)).toMatch(/^layer "block1_conv2" \(Conv2D\): takes 2 inputs \("block1_conv1", "input_1"\); vggc reads a plain chain of layers, no branches$/);
    const shared = variant({ edit: (json) => layerIn(json, 'block1_conv2').inbound_nodes.push([['block1_conv2', 0, 0, {}]]) }, saved);
    expect(refusal(shared)).toBe('layer "block1_conv2" (Conv2D): is called 2 times (a shared layer); vggc reads a plain chain of layers');
    const stray = variant({ edit: (json) => json.modelTopology.config.layers.push({ name: 'orphan', class_name: 'Dense', config: { name: 'orphan', units: 2 }, inbound_nodes: [] }) }, saved);
    expect(refusal(stray)).toBe('layer "orphan" (Dense): is not on the path from "input_1" to "predictions"; vggc reads a plain chain of layers');
  });
});

describe('weights', () => {
  const weights = (json: Record<string, any>) => json.weightsManifest[0].weights as { name: string; shape: number[]; dtype: string; quantization?: unknown }[];
  const entry = (json: Record<string, any>, name: string) => weights(json).find((w) => w.name === name)!;

  it('a missing weight; a weight of the wrong shape; an int32 weight; two weights with one name; two candidates for one weight', () => {
    expect(refusal(variant({ edit: (j) => (entry(j, 'block2_bn1/moving_variance').name = 'elsewhere/moving_variance') }))).toBe(
      'layer "block2_bn1" (BatchNormalization): weight "block2_bn1/moving_variance" is missing from weightsManifest',
    );
    expect(refusal(variant({ edit: (j) => entry(j, 'fc1/kernel').shape.reverse() }))).toBe('layer "fc1" (Dense): weight "fc1/kernel" has shape [6, 20], expected [20, 6] (Flatten of a 2×2×5 map gives 20 inputs, units 6)');
    expect(refusal(variant({ edit: (j) => (entry(j, 'block1_conv1/bias').dtype = 'int32') }))).toBe('layer "block1_conv1" (Conv2D): weight "block1_conv1/bias" has dtype "int32"; vggc reads float32 weights (plain or quantised)');
    expect(refusal(variant({ edit: (j) => (entry(j, 'fc1/bias').name = 'fc1/kernel') }))).toBe('weight "fc1/kernel" is listed twice in weightsManifest');
    const ambiguous = variant({
      edit: (j) => {
        entry(j, 'fc1/kernel').name = 'a/fc1/kernel';
        entry(j, 'fc1/bias').name = 'b/fc1/kernel';
      },
    });
    expect(refusal(ambiguous)).toBe('layer "fc1" (Dense): weight "fc1/kernel" is ambiguous: weightsManifest has "a/fc1/kernel", "b/fc1/kernel"');
  });

  it('quantisation it cannot decode', () => {
    expect(refusal(variant({ quantize: 'uint8', edit: (j) => delete (entry(j, 'fc1/kernel').quantization as any).scale }))).toMatch(/^weight "fc1\/kernel" is quantised to uint8 but its quantization has no finite scale and min/);
    expect(refusal(variant({ quantize: 'uint8', edit: (j) => ((entry(j, 'fc1/kernel').quantization as any).dtype = 'int4') }))).toBe(`weight "fc1/kernel" has quantization dtype "int4"; TF.js quantises to 'uint8', 'uint16' or 'float16'`);
  });

  it('a shard too short or too long', () => {
    const n = Math.ceil(base.data.length / 400);
    const shards = Array.from({ length: n }, (_, k) => `"group1-shard${k + 1}of${n}.bin"`).join(', ');
    const short = variant();
    truncateSync(join(short, '..', `group1-shard${n}of${n}.bin`), 10);
    const shortBytes = (n - 1) * 400 + 10;
    expect(refusal(short)).toMatch(new RegExp(`^weight "[^"]+" needs bytes \\[\\d+, \\d+\\) of weight group 1, but its shards \\(${shards.replace(/\./g, '\\.')}\\) hold only ${shortBytes} bytes \\("group1-shard${n}of${n}\\.bin" too short\\?\\)$`));
    // A shard before the last cut short is the one named (the converter writes all but the last at one size).
    const firstShort = variant();
    truncateSync(join(firstShort, '..', `group1-shard1of${n}.bin`), 10);
    expect(refusal(firstShort)).toMatch(new RegExp(`\\("group1-shard1of${n}\\.bin" too short\\?\\)$`));
    const long = variant();
    appendFileSync(join(long, '..', 'group1-shard1of' + n + '.bin'), Buffer.alloc(4));
    expect(refusal(long)).toBe(`weight group 1's shards (${shards}) hold ${base.data.length + 4} bytes, but its weights take ${base.data.length}; the shards do not match the manifest`);
  });

  it('shard paths leaving model.json\'s folder: "..", absolute, URL, symlink; a missing shard', () => {
    const paths = (p: string) => variant({ edit: (j) => (j.weightsManifest[0].paths[0] = p) });
    expect(refusal(paths('../group1-shard1of5.bin'))).toBe(`weight shard "../group1-shard1of5.bin" refused: the path has '..' components; shards must be files in model.json's folder`);
    expect(refusal(paths('/etc/passwd'))).toBe(`weight shard "/etc/passwd" refused: an absolute path; shards must be files in model.json's folder`);
    expect(refusal(paths('C:\\weights.bin'))).toMatch(/^weight shard "C:\\\\weights\.bin" refused: an absolute path/);
    expect(refusal(paths('https://example.com/group1-shard1of5.bin'))).toBe(`weight shard "https://example.com/group1-shard1of5.bin" refused: a URL; vggc reads shards from model.json's folder`);
    expect(refusal(paths('nowhere.bin'))).toBe('weight shard "nowhere.bin" cannot be read (ENOENT)');
    const outside = join(work, 'outside.bin');
    writeFileSync(outside, Buffer.alloc(400));
    const linked = paths('link.bin');
    symlinkSync(outside, join(linked, '..', 'link.bin'));
    expect(refusal(linked)).toBe(`weight shard "link.bin" refused: it resolves (through a symlink) to ${outside}, outside model.json's folder`);
    expect(refusal(paths('.'))).toBe(`weight shard "." refused: it names model.json's folder itself, not a file`);
    const sub = paths('sub');
    mkdirSync(join(sub, '..', 'sub'));
    expect(refusal(sub)).toBe('weight shard "sub" refused: not a regular file');
  });
});

describe('files that are not a TF.js layers model', () => {
  it('graph models, bad JSON, no manifest, unknown model class', () => {
    const dir = join(work, 'not-layers');
    mkdirSync(dir, { recursive: true });
    const write = (name: string, text: string) => {
      const p = join(dir, name);
      writeFileSync(p, text);
      return p;
    };
    expect(refusal(write('graph.json', JSON.stringify({ format: 'graph-model', modelTopology: { node: [] }, weightsManifest: [] })))).toBe(
      'has format "graph-model"; vggc reads TF.js layers models (format "layers-model"), not graph models',
    );
    expect(refusal(write('graphdef.json', JSON.stringify({ modelTopology: { node: [], versions: {} }, weightsManifest: [] })))).toMatch(/^holds a TensorFlow GraphDef/);
    expect(refusal(write('broken.json', '{"modelTopology": '))).toMatch(/^is not valid JSON \(/);
    expect(refusal(write('nomanifest.json', JSON.stringify({ modelTopology: base.topology })))).toBe("has no weightsManifest; the model's weights must come with it");
    expect(refusal(write('cls.json', JSON.stringify({ modelTopology: { class_name: 'Bidirectional', config: {} }, weightsManifest: [] })))).toBe(
      'modelTopology has class_name "Bidirectional"; vggc reads Sequential and Functional models',
    );
  });
});
