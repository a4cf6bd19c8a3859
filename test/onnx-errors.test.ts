// ONNX import without PyTorch: tiny VGG graphs built here with onnx-proto, read back by importOnnx,
// and every way such a file can be wrong (each one VggcError line naming the file and the node or
// tensor). The parity tests against torch.onnx.export are in onnx.test.ts.
import * as fs from 'node:fs';
import * as path from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { buildGraph } from '../compiler/graph/graph.js';
import { importOnnx } from '../compiler/frontend/onnx/import.js';
import { readModelInput } from '../compiler/frontend/index.js';
import { f16ToF32Table, f32ToF16Bits } from '../compiler/weights/half.js';
import { errorOf, tempDir } from './helpers.js';
import { attrFloat, attrInt, attrInts, convAttrs, FLOAT, poolAttrs, ramp, tensor, tinyModel, W, type Tiny } from './onnx-tiny.js';

const { onnx } = onnxProto;
const work = tempDir('vggc-onnx-errors-');


let counter = 0;
function write(model: OnnxTypes.IModelProto, name = `m${counter++}`, dir = work): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.onnx`);
  fs.writeFileSync(file, onnx.ModelProto.encode(model).finish());
  return file;
}

/** Moves every initializer's raw_data into `dataFile` (relative to the model) as external data. */
function externalize(model: OnnxTypes.IModelProto, dir: string, location: (name: string) => string, dataFile = 'weights.data'): OnnxTypes.IModelProto {
  fs.mkdirSync(dir, { recursive: true });
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const t of model.graph!.initializer!) {
    const raw = Buffer.from(t.rawData!);
    t.rawData = new Uint8Array(0);
    t.dataLocation = 1;
    t.externalData = [{ key: 'location', value: location(t.name!) }, { key: 'offset', value: String(offset) }, { key: 'length', value: String(raw.length) }];
    chunks.push(raw);
    offset += raw.length;
  }
  fs.writeFileSync(path.join(dir, dataFile), Buffer.concat(chunks));
  return model;
}

function readAll(file: string): Map<string, Float32Array> {
  const imp = importOnnx(file);
  const params = buildGraph(imp.config).params;
  const src = imp.source(params);
  try {
    return new Map(params.map((p) => [p.key, src.readRows(p, 0, p.shape[0])]));
  } finally {
    src.close();
  }
}
const f32 = (a: ArrayLike<number>) => Array.from(Float32Array.from(a));

describe('tiny ONNX VGGs built with onnx-proto', () => {
  it('derives the config and reads the weights by structure (raw_data)', () => {
    const file = write(tinyModel(), 'tiny');
    const imp = importOnnx(file);
    expect({ ...imp.config }).toEqual({ name: 'tiny', blocks: [[1, 1, 2]], inputSize: [4, 4], batchNorm: false, batchNormEps: 1e-5, avgPool: null, maxPool: null, classifier: [], numClasses: 3, finalActivation: 'none', outputs: null, outputLayout: 'nchw', labels: null, preprocessing: null });
    expect(imp.mapping.get('features.0.weight')).toBe('onnx::Conv_1');
    const w = readAll(file);
    expect(Array.from(w.get('features.0.weight')!)).toEqual(f32(W.conv));
    expect(Array.from(w.get('classifier.0.weight')!)).toEqual(f32(W.fc));
    expect(Array.from(w.get('classifier.0.bias')!)).toEqual(f32(W.fcB));
  });

  it('reads BatchNormalization parameters into running_mean/running_var, and float_data', () => {
    const m = tinyModel({ bn: true, batch: 'N' });
    const t = m.graph!.initializer!.find((i) => i.name === 'bn.v')!;
    t.rawData = new Uint8Array(0);
    t.floatData = [0.8, 1.3];
    const file = write(m);
    const imp = importOnnx(file);
    expect(imp.config.batchNorm).toBe(true);
    const w = readAll(file);
    expect(Array.from(w.get('features.1.running_var')!)).toEqual(f32([0.8, 1.3]));
    expect(Array.from(w.get('features.1.running_mean')!)).toEqual(f32([0.05, -0.05]));
    expect(Array.from(w.get('features.1.weight')!)).toEqual(f32([1.5, 0.5]));
  });

  it('MatMul + Add reads the [in, out] weight back as torch\'s [out, in]', () => {
    const w = readAll(write(tinyModel({ matmul: true })));
    expect(Array.from(w.get('classifier.0.weight')!)).toEqual(f32(W.fc));
    expect(Array.from(w.get('classifier.0.bias')!)).toEqual(f32(W.fcB));
  });

  it('FLOAT16 initializers are converted to float32', () => {
    const m = tinyModel();
    for (const t of m.graph!.initializer!) {
      const v = new Float32Array(Uint8Array.from(t.rawData!).buffer);
      t.rawData = new Uint8Array(Uint16Array.from(v, f32ToF16Bits).buffer);
      t.dataType = 10;
    }
    const w = readAll(write(m));
    const table = f16ToF32Table();
    expect(Array.from(w.get('features.0.weight')!)).toEqual(W.conv.map((v) => table[f32ToF16Bits(v)]));
  });

  it('reads external data next to the model, row ranges from the file', () => {
    const dir = path.join(work, 'ext-ok');
    const file = write(externalize(tinyModel(), dir, () => 'weights.data'), 'ext', dir);
    const imp = importOnnx(file);
    const params = buildGraph(imp.config).params;
    const src = imp.source(params);
    const fc = params.find((p) => p.key === 'classifier.0.weight')!;
    expect(Array.from(src.readRows(fc, 1, 3))).toEqual(f32(W.fc.slice(8)));
    src.close();
    expect(Array.from(readAll(file).get('features.0.weight')!)).toEqual(f32(W.conv));
  });

  it('initializers shared through Identity (torch deduplicates equal tensors) and the avg-pool forms', () => {
    const m = tinyModel();
    const g = m.graph!;
    g.node!.unshift({ name: 'Identity_0', opType: 'Identity', input: ['fc.b'], output: ['fc.b.alias'] });
    g.node!.find((n) => n.opType === 'Gemm')!.input![2] = 'fc.b.alias';
    const flatten = g.node!.findIndex((n) => n.opType === 'Flatten');
    g.node!.splice(flatten, 0, { name: '/avgpool/GlobalAveragePool', opType: 'GlobalAveragePool', input: ['p0'], output: ['a0'] });
    g.node![flatten + 1].input = ['a0'];
    g.initializer![2] = tensor('fc.w', [3, 2], W.fc.slice(0, 6));
    const file = write(m);
    expect(importOnnx(file).config.avgPool).toEqual([1, 1]);
    expect(Array.from(readAll(file).get('classifier.0.bias')!)).toEqual(f32(W.fcB));
    // An AveragePool whose kernel and stride differ is not what torch emits for AdaptiveAvgPool2d.
    g.node![flatten] = { name: '/avgpool/AveragePool', opType: 'AveragePool', input: ['p0'], output: ['a0'], attribute: [attrInts('kernel_shape', [2, 2]), attrInts('strides', [1, 1])] };
    expect(errorOf(() => importOnnx(write(m)))).toMatch(/: node "\/avgpool\/AveragePool" \(AveragePool\): kernel_shape \[2, 2\] strides \[1, 1\] pads \[0, 0, 0, 0\] ceil_mode 0 on a 2×2 map is not an adaptive average pool/);
  });

  it('readModelInput: .onnx → imported config + weights; --weights refused', () => {
    const file = write(tinyModel(), 'input');
    const input = readModelInput(file);
    expect(input.config.numClasses).toBe(3);
    expect(input.openWeights).not.toBeNull();
    expect(errorOf(() => readModelInput(file, { weightsPath: 'w.safetensors' }))).toBe(`${file}: an ONNX model carries its own weights (its initializers); do not pass --weights (w.safetensors)`);
  });
});

describe('bad ONNX files', () => {
  it('truncated file', () => {
    const good = fs.readFileSync(write(tinyModel()));
    const file = path.join(work, 'truncated.onnx');
    fs.writeFileSync(file, good.subarray(0, Math.floor(good.length / 2)));
    expect(errorOf(() => importOnnx(file))).toMatch(new RegExp(`^${file}: not a valid ONNX model: protobuf decoding failed \\(.*\\); is the file truncated or not ONNX\\?$`));
  });

  it('not ONNX: a JSON config, random bytes, an empty file, a missing file', () => {
    const json = path.join(work, 'config.onnx');
    fs.writeFileSync(json, '{"blocks": [[3, 1, 8]]}');
    expect(errorOf(() => importOnnx(json))).toBe(`${json}: this is a JSON file, not an ONNX model (a vggc config must not be named .onnx)`);
    const rnd = path.join(work, 'random.onnx');
    fs.writeFileSync(rnd, Buffer.from(Array.from({ length: 256 }, (_, i) => (i * 89 + 17) & 255)));
    expect(errorOf(() => importOnnx(rnd))).toMatch(/random\.onnx: not (a valid ONNX model|an ONNX model)/);
    const empty = path.join(work, 'empty.onnx');
    fs.writeFileSync(empty, '');
    expect(errorOf(() => importOnnx(empty))).toBe(`${empty}: not an ONNX model: it has no graph (or an empty one)`);
    expect(errorOf(() => importOnnx(path.join(work, 'nope.onnx')))).toBe(`${path.join(work, 'nope.onnx')}: cannot read the ONNX model (ENOENT)`);
  });

  it('an unsupported op names the node and its op type', () => {
    const file = write(tinyModel({ activation: 'Sigmoid' }));
    expect(errorOf(() => importOnnx(file))).toMatch(new RegExp(`^${file}: node "/features/features\\.1/Act" \\(Sigmoid\\): operator Sigmoid is not supported; vggc imports VGG graphs made of Conv, `));
  });

  it('BatchNormalization epsilon other than 1e-5', () => {
    const file = write(tinyModel({ bn: true, eps: 1e-3 }));
    expect(errorOf(() => importOnnx(file))).toMatch(new RegExp(`^${file}: node "/features/features\\.1/BatchNormalization" \\(BatchNormalization\\): epsilon is 0\\.0010000000474974513; vggc folds BatchNorm with torch's default ε = 1e-5 only$`));
  });

  it('dynamic height', () => {
    const file = write(tinyModel({ height: 'height' }));
    expect(errorOf(() => importOnnx(file))).toBe(`${file}: graph input "input" has a dynamic ("height") height; vggc compiles for one input size: export with a fixed size (torch.onnx.export with an example input of that size, dynamic_axes only for dim 0)`);
  });

  it('a strided convolution and a 3×3 max-pool are refused naming the node', () => {
    const m = tinyModel();
    m.graph!.node![0].attribute = [attrInts('kernel_shape', [3, 3]), attrInts('pads', [1, 1, 1, 1]), attrInts('strides', [2, 2])];
    expect(errorOf(() => importOnnx(write(m)))).toMatch(/: node "\/features\/features\.0\/Conv" \(Conv\): strides \[2, 2\]; VGG convolutions have stride 1$/);
    const p = tinyModel();
    p.graph!.node![2].attribute = [attrInts('kernel_shape', [3, 3]), attrInts('strides', [2, 2])];
    expect(errorOf(() => importOnnx(write(p)))).toMatch(/: node "\/features\/features\.2\/MaxPool" \(MaxPool\): kernel_shape \[3, 3\] strides \[2, 2\] pads \[0, 0, 0, 0\] ceil_mode 0; VGG blocks end with a 2×2 stride-2 max-pool/);
  });

  it('a weight of the wrong shape names the tensor', () => {
    const m = tinyModel();
    m.graph!.initializer![3] = tensor('fc.b', [4], [1, 2, 3, 4]);
    expect(errorOf(() => importOnnx(write(m)))).toMatch(/: node "\/classifier\/Gemm" \(Gemm\): its bias "fc\.b" has shape \[4\], expected \[3\]$/);
    const r = tinyModel();
    r.graph!.initializer![2].rawData = new Uint8Array(10);
    expect(errorOf(() => importOnnx(write(r)))).toMatch(/: tensor "fc\.w" \(weight of node "\/classifier\/Gemm" \(Gemm\)\) has shape \[3, 8\] of FLOAT \(96 bytes\) but raw_data holds 10 bytes$/);
  });

  it('NaN weights are refused unless allowed', () => {
    const m = tinyModel();
    const w = new Float32Array(W.fc);
    w[9] = NaN;
    m.graph!.initializer![2] = tensor('fc.w', [3, 8], w);
    const file = write(m);
    const imp = importOnnx(file);
    const params = buildGraph(imp.config).params;
    const fc = params.find((p) => p.key === 'classifier.0.weight')!;
    expect(errorOf(() => imp.source(params).readRows(fc, 0, 3))).toBe(`${file}: tensor "fc.w" (classifier.0.weight) has NaN at index [1, 1] (use --allow-nonfinite to accept it)`);
    expect(Number.isNaN(imp.source(params, { allowNonfinite: true }).readRows(fc, 0, 3)[9])).toBe(true);
  });

  describe('external data paths that leave the model folder are refused', () => {
    const outside = path.join(work, 'outside');
    fs.mkdirSync(outside, { recursive: true });
    fs.writeFileSync(path.join(outside, 'secret.data'), Buffer.alloc(4096));
    const cases: Array<[string, string, string]> = [
      ['../../etc/passwd', '../../etc/passwd', 'the path has ".." components; external data must be a file in the model\'s folder'],
      ['absolute', '/etc/passwd', "an absolute path; external data must be a file in the model's folder"],
      ['windows-absolute', 'C:\\Windows\\win.ini', "an absolute path; external data must be a file in the model's folder"],
      ['dotdot-inside', 'sub/../weights.data', 'the path has ".." components; external data must be a file in the model\'s folder'],
    ];
    it.each(cases)('%s', (label, location, why) => {
      const dir = path.join(work, `ext-${label.replace(/\W/g, '_')}`);
      const file = write(externalize(tinyModel(), dir, (n) => (n === 'onnx::Conv_2' ? location : 'weights.data')), 'model', dir);
      expect(errorOf(() => importOnnx(file))).toBe(`${file}: tensor "onnx::Conv_2" (bias of node "/features/features.0/Conv" (Conv)) has its data in external file ${JSON.stringify(location)}, refused: ${why}`);
    });

    it('a symlink resolving outside the folder', () => {
      const dir = path.join(work, 'ext-symlink');
      const file = write(externalize(tinyModel(), dir, () => 'weights.data'), 'model', dir);
      fs.rmSync(path.join(dir, 'weights.data'));
      fs.symlinkSync(path.join(outside, 'secret.data'), path.join(dir, 'weights.data'));
      expect(errorOf(() => importOnnx(file))).toBe(`${file}: tensor "onnx::Conv_1" (weight of node "/features/features.0/Conv" (Conv)) has its data in external file "weights.data", refused: it resolves (through a symlink) to ${fs.realpathSync(path.join(outside, 'secret.data'))}, outside the model's folder`);
    });

    it('a missing or truncated external file', () => {
      const dir = path.join(work, 'ext-missing');
      const file = write(externalize(tinyModel(), dir, () => 'weights.data'), 'model', dir);
      fs.truncateSync(path.join(dir, 'weights.data'), 100);
      expect(errorOf(() => importOnnx(file))).toBe(`${file}: tensor "fc.w" (weight of node "/classifier/Gemm" (Gemm)) needs bytes [80, 176) of external file "weights.data", which has only 100 bytes (truncated?)`);
      fs.rmSync(path.join(dir, 'weights.data'));
      expect(errorOf(() => importOnnx(file))).toBe(`${file}: tensor "onnx::Conv_1" (weight of node "/features/features.0/Conv" (Conv)) has its data in external file "weights.data", which cannot be read (ENOENT)`);
    });
  });
});
