// ONNX import against PyTorch: VGGs exported with torch.onnx.export (torch 1.13, Debian's
// /usr/bin/python3) at opsets 11, 13 and 17, with and without BatchNorm nodes, with a dynamic batch,
// with external data and with Gemm rewritten to MatMul+Add, are imported, compiled and run; the
// logits must match PyTorch's. Also full-size torchvision vgg11 and vgg11_bn at opset 13.
// In CI torch is required; locally these tests are skipped with a message when it is missing.
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileModel } from '../compiler/pipeline.js';
import { configJson } from '../compiler/emit/manifest.js';
import { importOnnx } from '../compiler/frontend/onnx/import.js';
import { loadModel } from '../runtime/index.js';
import { readNpy } from '../runtime/npy.js';
import { compareLogits, expectParity, ROOT, tempDir } from './helpers.js';

const { onnx } = onnxProto;
const PYTHON = '/usr/bin/python3';
const EXPORT = join(ROOT, 'tools/export_onnx_for_tests.py');
const run = promisify(execFile);
const work = tempDir('vggc-onnx-');

const torchAvailable = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { stdio: 'ignore' }).status === 0;
if (process.env.CI && !torchAvailable) {
  throw new Error(`CI must have PyTorch: ${PYTHON} cannot import torch and torchvision (apt-get install python3-torch python3-torchvision)`);
}
if (!torchAvailable) console.warn(`onnx.test.ts: skipping the PyTorch-exported ONNX tests: ${PYTHON} cannot import torch and torchvision`);

/** `vggc compile model.onnx`: config and weights from the graph. */
async function compileOnnx(file: string, outDir: string): Promise<void> {
  await compileModel({ configPath: file, outDir });
}

async function runAndCompare(outDir: string, refDir: string): Promise<number> {
  const model = await loadModel(outDir);
  try {
    const x = readNpy(join(refDir, 'input.npy'));
    const ref = readNpy(join(refDir, 'logits.npy')).data;
    const y = await model.infer(x.data, x.shape[0]);
    expectParity(y, ref, model.numClasses);
    return compareLogits(y, ref, model.numClasses).relError;
  } finally {
    model.dispose();
  }
}

function writeConfig(name: string, cfg: object): string {
  const file = join(work, `${name}.json`);
  writeFileSync(file, JSON.stringify(cfg));
  return file;
}

/** The avg-pool node torch emitted for AdaptiveAvgPool2d, as `Op[kernel]`, or `none`. */
function avgPoolOps(file: string): string {
  const m = onnx.ModelProto.decode(readFileSync(file));
  const ops = m.graph!.node!.filter((n) => n.opType === 'AveragePool' || n.opType === 'GlobalAveragePool');
  if (ops.length === 0) return 'none';
  return ops.map((n) => `${n.opType}${n.opType === 'AveragePool' ? `[${n.attribute!.find((a) => a.name === 'kernel_shape')!.ints!.join(',')}]` : ''}`).join(' ');
}
const opTypes = (file: string) => new Set(onnx.ModelProto.decode(readFileSync(file)).graph!.node!.map((n) => n.opType!));

// Small configs chosen to reach every avg-pool form torch emits (see compiler/onnx/import.ts).
const POOL_2X1 = { blocks: [[3, 1, 8], [8, 2, 16], [16, 1, 16]], inputSize: [48, 32], avgPool: [3, 4], classifier: [24], numClasses: 6 }; // 6×4 map → AveragePool [2,1]
const GLOBAL_BN = { blocks: [[3, 1, 8], [8, 1, 16]], inputSize: [20, 24], batchNorm: true, avgPool: [1, 1], classifier: [16, 12], numClasses: 4 }; // → GlobalAveragePool
const SMALL_BN = JSON.parse(readFileSync(join(ROOT, 'test/golden/small-bn/config.json'), 'utf8')); // 2×2 map, avgPool [2,2] → AveragePool [1,1]
const NOTEBOOK = JSON.parse(readFileSync(join(ROOT, 'test/golden/notebook/config.json'), 'utf8')); // avgPool null, x.view(N, -1) → Reshape

interface Case {
  id: string;
  config: Record<string, unknown>;
  opset: number;
  flags: string[];
  batchNorm: boolean;
  avgPool: number[] | null;
  emitted: string;
}
const CASES: Case[] = [
  { id: 'pool2x1-op11', config: POOL_2X1, opset: 11, flags: [], batchNorm: false, avgPool: [3, 4], emitted: 'AveragePool[2,1]' },
  { id: 'pool2x1-op17', config: POOL_2X1, opset: 17, flags: ['--quantize', 'f16', 'int8'], batchNorm: false, avgPool: [3, 4], emitted: 'AveragePool[2,1]' },
  { id: 'global-bn-op11', config: GLOBAL_BN, opset: 11, flags: ['--keep-batchnorm'], batchNorm: true, avgPool: [1, 1], emitted: 'GlobalAveragePool' },
  { id: 'global-bn-op17', config: GLOBAL_BN, opset: 17, flags: ['--keep-batchnorm'], batchNorm: true, avgPool: [1, 1], emitted: 'GlobalAveragePool' },
  // torch's default export (TrainingMode.EVAL) folds BatchNorm into the Conv weights itself.
  { id: 'global-bn-folded-op17', config: GLOBAL_BN, opset: 17, flags: [], batchNorm: false, avgPool: [1, 1], emitted: 'GlobalAveragePool' },
  { id: 'small-bn-op13-dynbatch', config: SMALL_BN, opset: 13, flags: ['--keep-batchnorm', '--dynamic-batch', '--batch', '2', '--quantize', 'f16', 'int8'], batchNorm: true, avgPool: [2, 2], emitted: 'AveragePool[1,1]' },
  { id: 'notebook-op11-dynbatch', config: NOTEBOOK, opset: 11, flags: ['--layout', 'notebook', '--dynamic-batch', '--batch', '2'], batchNorm: false, avgPool: null, emitted: 'none' },
  { id: 'notebook-op17-dynbatch', config: NOTEBOOK, opset: 17, flags: ['--layout', 'notebook', '--dynamic-batch', '--batch', '2'], batchNorm: false, avgPool: null, emitted: 'none' },
];

async function exportCase(c: Case): Promise<string> {
  const dir = join(work, c.id);
  const cfg = writeConfig(c.id, c.config);
  await run(PYTHON, [EXPORT, '--config', cfg, '--out', dir, '--opset', String(c.opset), '--seed', '3', '--init', 'fan-in', ...c.flags], { maxBuffer: 64 << 20 });
  return dir;
}

/** Runs `jobs` with at most `n` at a time (torch export is CPU-bound; the machine may have 2 cores). */
async function pool<T>(jobs: Array<() => Promise<T>>, n: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  }));
  return results;
}

/** Moves every initializer's raw_data to `weights.data` next to the model (TensorProto external data). */
function externalize(src: string, dir: string): string {
  const m = onnx.ModelProto.decode(readFileSync(src));
  mkdirSync(dir, { recursive: true });
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const t of m.graph!.initializer!) {
    if (!t.rawData || t.rawData.length === 0) continue;
    const pad = (64 - (offset % 64)) % 64; // as onnx's save_model aligns, and to prove offsets are honoured
    chunks.push(Buffer.alloc(pad));
    offset += pad;
    const raw = Buffer.from(t.rawData);
    t.rawData = new Uint8Array(0);
    t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
    t.externalData = [onnx.StringStringEntryProto.create({ key: 'location', value: 'weights.data' }), onnx.StringStringEntryProto.create({ key: 'offset', value: String(offset) }), onnx.StringStringEntryProto.create({ key: 'length', value: String(raw.length) })];
    chunks.push(raw);
    offset += raw.length;
  }
  writeFileSync(join(dir, 'weights.data'), Buffer.concat(chunks));
  const file = join(dir, 'model-external.onnx');
  writeFileSync(file, onnx.ModelProto.encode(m).finish());
  return file;
}

/** Rewrites each Gemm(x, W[out,in], b, transB=1) as MatMul(x, Wᵀ[in,out]) + Add(b), as other exporters emit Linear. */
function gemmToMatMul(src: string, dst: string): string {
  const m = onnx.ModelProto.decode(readFileSync(src));
  const g = m.graph!;
  const inits = new Map(g.initializer!.map((t) => [t.name!, t]));
  const nodes: OnnxTypes.INodeProto[] = [];
  for (const n of g.node!) {
    if (n.opType !== 'Gemm') {
      nodes.push(n);
      continue;
    }
    const w = inits.get(n.input![1])!;
    const [out, inF] = w.dims!.map(Number);
    const data = new Float32Array(Uint8Array.from(w.rawData!).buffer);
    const t = new Float32Array(out * inF);
    for (let r = 0; r < out; r++) for (let i = 0; i < inF; i++) t[i * out + r] = data[r * inF + i];
    const name = `${n.name}/weight_T`;
    g.initializer!.push(onnx.TensorProto.create({ name, dims: [inF, out], dataType: 1, rawData: new Uint8Array(t.buffer) }));
    nodes.push(onnx.NodeProto.create({ name: `${n.name}/MatMul`, opType: 'MatMul', input: [n.input![0], name], output: [`${n.output![0]}_mm`] }));
    nodes.push(onnx.NodeProto.create({ name: `${n.name}/Add`, opType: 'Add', input: [`${n.output![0]}_mm`, n.input![2]], output: [n.output![0]] }));
  }
  g.node = nodes as OnnxTypes.NodeProto[];
  writeFileSync(dst, onnx.ModelProto.encode(m).finish());
  return dst;
}

describe.runIf(torchAvailable)('VGGs exported by torch.onnx.export', () => {
  const dirs = new Map<string, string>();
  beforeAll(async () => {
    const t0 = Date.now();
    const out = await pool(CASES.map((c) => () => exportCase(c)), 2);
    CASES.forEach((c, i) => dirs.set(c.id, out[i]));
    console.log(`exported ${CASES.length} small models in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  });

  it.each(CASES)('$id: config derived from the graph, logits match PyTorch', async (c) => {
    const dir = dirs.get(c.id)!;
    const file = join(dir, 'model.onnx');
    expect(avgPoolOps(file)).toBe(c.emitted);
    expect(opTypes(file).has('BatchNormalization')).toBe(c.batchNorm);
    const { config } = importOnnx(file);
    const want = c.config as { blocks: number[][]; inputSize: number[]; classifier: number[]; numClasses: number };
    expect({ blocks: config.blocks, inputSize: config.inputSize, batchNorm: config.batchNorm, avgPool: config.avgPool, classifier: configJson(config).classifier, numClasses: config.numClasses }).toEqual({
      blocks: want.blocks, inputSize: want.inputSize, batchNorm: c.batchNorm, avgPool: c.avgPool, classifier: want.classifier, numClasses: want.numClasses,
    });
    const outDir = join(work, `${c.id}-vggc`);
    await compileOnnx(file, outDir);
    const rel = await runAndCompare(outDir, dir);
    console.log(`${c.id}: torch emitted ${c.emitted} → avgPool ${JSON.stringify(c.avgPool)}; max|Δ|/max|y| = ${rel.toExponential(2)}`);
  });

  it.each([
    ['pool2x1-op17', 'int8'],
    ['small-bn-op13-dynbatch', 'int8'],
    ['small-bn-op13-dynbatch', 'f16'],
  ] as const)('%s with --weights-dtype %s matches PyTorch running the same quantisation', async (id, dtype) => {
    const dir = dirs.get(id)!;
    const outDir = join(work, `${id}-${dtype}-vggc`);
    await compileModel({ configPath: join(dir, 'model.onnx'), outDir, weightsDtype: dtype });
    const model = await loadModel(outDir);
    try {
      expect(model.manifest.weights.dtype).toBe(dtype);
      const x = readNpy(join(dir, 'input.npy'));
      const y = await model.infer(x.data, x.shape[0]);
      expectParity(y, readNpy(join(dir, `logits-${dtype}.npy`)).data, model.numClasses);
      // The quantisation really happened.
      expect(compareLogits(y, readNpy(join(dir, 'logits.npy')).data, model.numClasses).relError).toBeGreaterThan(1e-4);
    } finally {
      model.dispose();
    }
  });

  it('external data next to the model (opset 17)', async () => {
    const dir = dirs.get('pool2x1-op17')!;
    const file = externalize(join(dir, 'model.onnx'), join(work, 'external'));
    expect(readFileSync(file).length).toBeLessThan(4096); // the weights really moved out
    const outDir = join(work, 'external-vggc');
    await compileOnnx(file, outDir);
    await runAndCompare(outDir, dir);
  });

  it('MatMul + Add instead of Gemm (dynamic batch, Reshape flatten)', async () => {
    const dir = dirs.get('notebook-op17-dynbatch')!;
    const file = gemmToMatMul(join(dir, 'model.onnx'), join(work, 'notebook-matmul.onnx'));
    expect(opTypes(file).has('Gemm')).toBe(false);
    const outDir = join(work, 'matmul-vggc');
    await compileOnnx(file, outDir);
    await runAndCompare(outDir, dir);
  });

  it('a model with a Sigmoid is refused naming the node and op type', async () => {
    const dir = join(work, 'sigmoid');
    await run(PYTHON, [EXPORT, '--config', writeConfig('sigmoid', POOL_2X1), '--out', dir, '--opset', '13', '--sigmoid'], { maxBuffer: 64 << 20 });
    const file = join(dir, 'model.onnx');
    expect(() => importOnnx(file)).toThrow(`${file}: node "/features/features.1/Sigmoid" (Sigmoid): operator Sigmoid is not supported; vggc imports VGG graphs made of Conv, BatchNormalization, Relu, MaxPool, AveragePool, GlobalAveragePool, Flatten, Reshape, Gemm, MatMul, Add, Dropout, Identity (and Shape, Gather, Unsqueeze, Concat, Constant for the flatten shape)`);
  });

  it('a dynamic height/width is refused with a hint to export a fixed size', async () => {
    const dir = join(work, 'dynamic-hw');
    await run(PYTHON, [EXPORT, '--config', writeConfig('dynhw', NOTEBOOK), '--out', dir, '--opset', '13', '--layout', 'notebook', '--dynamic-hw'], { maxBuffer: 64 << 20 });
    const file = join(dir, 'model.onnx');
    expect(() => importOnnx(file)).toThrow(`${file}: graph input "input" has a dynamic ("height") height; vggc compiles for one input size: export with a fixed size (torch.onnx.export with an example input of that size, dynamic_axes only for dim 0)`);
  });
});

describe.runIf(torchAvailable)('full-size torchvision VGG exported to ONNX (opset 13)', () => {
  it.each([
    { arch: 'vgg11', flags: [] as string[], batchNorm: false },
    { arch: 'vgg11_bn', flags: ['--keep-batchnorm'], batchNorm: true },
  ])('$arch matches PyTorch', async ({ arch, flags, batchNorm }) => {
    const dir = join(work, `${arch}-onnx`);
    const outDir = join(work, `${arch}-vggc`);
    try {
      const t0 = Date.now();
      await run(PYTHON, [EXPORT, '--config', join(ROOT, 'examples', `${arch}.json`), '--out', dir, '--opset', '13', '--seed', '1', '--dynamic-batch', '--batch', '2', ...flags], { maxBuffer: 64 << 20 });
      const t1 = Date.now();
      const file = join(dir, 'model.onnx');
      const { config } = importOnnx(file);
      const expected = JSON.parse(readFileSync(join(ROOT, 'examples', `${arch}.json`), 'utf8'));
      expect({ blocks: config.blocks, inputSize: config.inputSize, batchNorm: config.batchNorm, avgPool: config.avgPool, classifier: configJson(config).classifier, numClasses: config.numClasses }).toEqual({
        blocks: expected.blocks, inputSize: [224, 224], batchNorm, avgPool: [7, 7], classifier: [4096, 4096], numClasses: 1000,
      });
      expect(avgPoolOps(file)).toBe('AveragePool[1,1]');
      await compileOnnx(file, outDir);
      const t2 = Date.now();
      const rel = await runAndCompare(outDir, dir);
      console.log(`${arch} (ONNX opset 13): export ${((t1 - t0) / 1000).toFixed(1)} s, import+compile ${((t2 - t1) / 1000).toFixed(1)} s, run+compare ${((Date.now() - t2) / 1000).toFixed(1)} s; max|Δ|/max|y| = ${rel.toExponential(2)}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      rmSync(outDir, { recursive: true, force: true });
    }
  });
});
