/**
 * End to end, no config: .pth files written by torch 1.13 (both formats, BatchNorm, views, wrappers,
 * training checkpoints, heads of several shapes, the seed notebook's layout) → `vggc compile
 * model.pth` (compileModel, the network derived from the keys) → loadModel → infer, against PyTorch's
 * forward on the same input. Then a full-size torchvision VGG-16, and a config given with a .pth.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileModel } from '../compiler/pipeline.js';
import { loadModel } from '../runtime/load/node.js';
import { readNpy } from '../runtime/npy.js';
import { expectParity, rejection, ROOT, tempDir } from './helpers.js';
import { readF32, writeCheckpoints } from './pytorch/fixtures.js';

const fx = writeCheckpoints('write_checkpoints.py', 'vggc-pth-e2e-');
afterAll(() => fs.rmSync(fx.dir, { recursive: true, force: true }));
const work = tempDir('vggc-pth-e2e-out-');

const cases = Object.entries(fx.cases).filter(([, c]) => c.forward);

it('the end-to-end set covers both formats, BatchNorm, views, wrappers, checkpoints, the notebook layout and every head shape', () => {
  expect(cases.map(([n]) => n).sort()).toEqual([
    'bn-legacy', 'ckpt-model_state_dict', 'ckpt-state_dict', 'ddp', 'ddp-compiled', 'head-0-2', 'head-0-3', 'head-finetuned', 'head-mixed', 'head-no-relu', 'head-single', 'notebook', 'notebook-bn', 'tv', 'tv-legacy', 'views',
  ]);
});

describe.each(cases)('%s', (name, c) => {
  it("compiles with no config and matches PyTorch's logits within 1e-4·max|y|, same argmax", async () => {
    const [n, , h, w] = c.forward!.inputShape;
    const outDir = join(work, name);
    // torchvision layouts default to 224×224; these small models were run at their own size.
    await compileModel({ configPath: c.file, outDir, inputSize: [h, w] });
    const model = await loadModel(outDir);
    try {
      expect(model.numClasses).toBe(c.forward!.numClasses);
      expectParity(await model.infer(readF32(c.forward!.input), n), readF32(c.forward!.logits), model.numClasses);
    } finally {
      model.dispose();
    }
  });
});

describe('a config given with a checkpoint', () => {
  it('compiles with the config\'s network and the checkpoint\'s tensors matched by key', async () => {
    const c = fx.cases.tv;
    const [n, , h, w] = c.forward!.inputShape;
    const configPath = join(work, 'tv.json');
    // The network tv_model builds: [8, M, 16, M], classifier 32-32-5 at 32×32 with torchvision's 7×7 pool.
    fs.writeFileSync(configPath, JSON.stringify({ blocks: [[3, 1, 8], [8, 1, 16]], inputSize: [h, w], classifier: [32, 32], numClasses: 5 }));
    await compileModel({ configPath, weightsPath: c.file, outDir: join(work, 'tv-config') });
    const model = await loadModel(join(work, 'tv-config'));
    expectParity(await model.infer(readF32(c.forward!.input), n), readF32(c.forward!.logits), 5);
    model.dispose();
  });
  it('a mismatch names the tensor and the shapes', async () => {
    const c = fx.cases.tv;
    const configPath = join(work, 'tv-wrong.json');
    fs.writeFileSync(configPath, JSON.stringify({ blocks: [[3, 1, 8], [8, 1, 24]], inputSize: [32, 32], classifier: [32, 32], numClasses: 5 }));
    const msg = await rejection(compileModel({ configPath, weightsPath: c.file, outDir: join(work, 'tv-wrong') }));
    expect(msg).toBe(`${c.file}: tensor features.3.weight has shape [16, 8, 3, 3] but the config expects [24, 8, 3, 3]`);
  });
  it('--weights with a checkpoint as the model is refused: its weights are its own', async () => {
    const c = fx.cases.tv;
    expect(await rejection(compileModel({ configPath: c.file, weightsPath: 'w.safetensors', outDir: join(work, 'twice') }))).toBe(`${c.file}: a PyTorch checkpoint carries its own weights; do not pass --weights (w.safetensors)`);
  });
});

describe('full-size torchvision VGG-16 from a .pth, no config', () => {
  it('derives VGG-16 (224×224, 7×7 avg-pool, 4096-4096-1000) and matches PyTorch', async () => {
    const dir = join(work, 'vgg16-full');
    fs.mkdirSync(dir, { recursive: true });
    const script = [
      'import sys, torch, torchvision, numpy as np',
      'torch.manual_seed(0)',
      'm = torchvision.models.vgg16().eval()',
      `torch.save(m.state_dict(), "${dir}/vgg16.pth")`,
      'x = torch.randn(2, 3, 224, 224)',
      'with torch.no_grad(): y = m(x)',
      `np.save("${dir}/x.npy", x.numpy()); np.save("${dir}/y.npy", y.numpy())`,
    ].join('\n');
    const r = spawnSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8', cwd: ROOT });
    expect(r.status, r.stderr).toBe(0);
    const { manifest } = await compileModel({ configPath: join(dir, 'vgg16.pth'), outDir: join(dir, 'out') });
    expect(manifest.config.blocks).toEqual([[3, 2, 64], [64, 2, 128], [128, 3, 256], [256, 3, 512], [512, 3, 512]]);
    expect(manifest.config.inputSize).toEqual([224, 224]);
    expect(manifest.config.avgPool).toEqual([7, 7]);
    expect(manifest.config.classifier).toEqual([4096, 4096]);
    expect(manifest.totals.params).toBe(138_357_544);
    const model = await loadModel(join(dir, 'out'));
    const x = readNpy(join(dir, 'x.npy'));
    expectParity(await model.infer(x.data, 2), readNpy(join(dir, 'y.npy')).data, 1000);
    model.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
