/**
 * End to end: .pth files written by torch 1.13 → readTorchFile → deriveNetwork → (a bridge in this
 * file: config object + safetensors with the compiler's own parameter keys, paired by position as
 * compiler/frontend/imported.ts prescribes) → compileModel → loadModel → infer, against PyTorch's
 * forward on the same input. Only heads today's compiler can build are used (ReLU between every two
 * Linear layers); other head shapes are covered by derivation tests in pytorch-checkpoint.test.ts.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readTorchFile } from '../compiler/frontend/pytorch/checkpoint.js';
import { deriveNetwork } from '../compiler/frontend/pytorch/derive.js';
import type { ImportedNetwork, StoredTensor } from '../compiler/frontend/imported.js';
import { parseConfig } from '../compiler/frontend/config/parse.js';
import { buildGraph } from '../compiler/graph/graph.js';
import { compileModel } from '../compiler/pipeline.js';
import { writeSafetensors, type SafetensorsTensor } from '../compiler/frontend/safetensors/write.js';
import { loadModel } from '../runtime/load/node.js';
import { expectParity } from './helpers.js';
import { readF32, writeCheckpoints } from './pytorch/fixtures.js';

const fx = writeCheckpoints('write_checkpoints.py', 'vggc-pth-e2e-');
afterAll(() => fs.rmSync(fx.dir, { recursive: true, force: true }));

/** The config and weights today's pipeline takes, from what the PyTorch front end found. */
function bridge(net: ImportedNetwork, fallbackInput: [number, number], dir: string): { configPath: string; weightsPath: string } {
  const bn = net.convs.map((c) => c.batchNorm !== null);
  if (bn.some((b) => b !== bn[0])) throw new Error('BatchNorm on some convs only: not compilable today');
  const hidden = net.linears.slice(0, -1);
  if (hidden.some((l) => !l.relu)) throw new Error('a hidden Linear without ReLU: not compilable today');
  if (net.headPool && net.headPool.kind !== 'avg') throw new Error('max head pool: not compilable today');
  const config = {
    name: net.name,
    blocks: net.blocks,
    inputSize: net.inputSize ?? fallbackInput,
    batchNorm: bn[0],
    avgPool: net.headPool ? [...net.headPool.size] : null,
    classifier: hidden.map((l) => l.weight.shape[0]),
    numClasses: net.linears.at(-1)!.weight.shape[0],
  };
  const configPath = join(dir, `${net.name}.json`);
  fs.writeFileSync(configPath, JSON.stringify(config));
  const params = buildGraph(parseConfig(JSON.stringify(config), configPath)).params;
  // Network order, as imported.ts defines it: each conv's weight, bias, then its BatchNorm's four; each Linear's weight, bias.
  const filler = (n: number, v: number): StoredTensor => ({ shape: [n], origin: `constant ${v}`, read: (_s, c) => new Float32Array(c).fill(v) });
  const tensors: StoredTensor[] = [];
  for (const c of net.convs) {
    const out = c.weight.shape[0];
    tensors.push(c.weight, c.bias ?? filler(out, 0));
    if (c.batchNorm) tensors.push(c.batchNorm.weight ?? filler(out, 1), c.batchNorm.bias ?? filler(out, 0), c.batchNorm.runningMean, c.batchNorm.runningVar);
  }
  for (const l of net.linears) tensors.push(l.weight, l.bias ?? filler(l.weight.shape[0], 0));
  expect(tensors.length).toBe(params.length);
  const st: SafetensorsTensor[] = params.map((p, i) => {
    expect(tensors[i].shape, `${p.key} ← ${tensors[i].origin}`).toEqual(p.shape);
    return { key: p.key, shape: p.shape, data: tensors[i].read(0, p.shape.reduce((a, b) => a * b, 1)) };
  });
  const weightsPath = join(dir, `${net.name}.safetensors`);
  writeSafetensors(weightsPath, st);
  return { configPath, weightsPath };
}

const cases = Object.entries(fx.cases).filter(([, c]) => c.forward);

it('the end-to-end set covers both formats, BatchNorm, the notebook layout and several heads', () => {
  expect(cases.map(([n]) => n).sort()).toEqual(['bn-legacy', 'ckpt-state_dict', 'head-finetuned', 'head-single', 'notebook', 'notebook-bn', 'tv']);
});

describe.each(cases)('%s', (name, c) => {
  it("compiles and matches PyTorch's logits within 1e-4·max|y|, same argmax", async () => {
    const f = readTorchFile(c.file);
    const work = fs.mkdtempSync(join(fx.dir, `${name}-`));
    let paths: { configPath: string; weightsPath: string };
    try {
      const net = deriveNetwork(c.file, f.tensors);
      const [, , h, w] = c.forward!.inputShape;
      paths = bridge(net, [h, w], work);
    } finally {
      f.close();
    }
    const outDir = join(work, 'out');
    await compileModel({ ...paths, outDir });
    const model = await loadModel(outDir);
    try {
      expect(model.numClasses).toBe(c.forward!.numClasses);
      const x = readF32(c.forward!.input);
      const ref = readF32(c.forward!.logits);
      const y = await model.infer(x, c.forward!.inputShape[0]);
      expectParity(y, ref, model.numClasses);
    } finally {
      model.dispose();
    }
  });
});
