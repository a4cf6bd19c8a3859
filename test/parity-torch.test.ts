/**
 * vggc against PyTorch. The small goldens are committed (test/golden, made by tools/torch_reference.py);
 * full-size torchvision VGG-11/13/16/19 (and the seed notebook's module layout) are exported by the
 * same script at test time when Debian's python3-torch is installed. In CI torch is required: a
 * missing torch fails there instead of skipping.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileModel } from '../compiler/pipeline.js';
import { loadModel } from '../runtime/index.js';
import { readNpy } from '../runtime/npy.js';
import { compareLogits, compileGolden, expectParity, GOLDEN, GOLDENS, ROOT, tempDir } from './helpers.js';

const PYTHON = '/usr/bin/python3';
const work = tempDir();

describe.each(GOLDENS)('golden %s', (name) => {
  for (const kernels of ['wasmsimd', 'scalar-ref'] as const) {
    it(`${kernels} kernels match PyTorch's logits`, async () => {
      const dir = await compileGolden(name, kernels, work);
      const model = await loadModel(dir);
      const x = readNpy(join(GOLDEN, name, 'input.npy'));
      const ref = readNpy(join(GOLDEN, name, 'logits.npy'));
      const y = await model.infer(x.data, x.shape[0]);
      expectParity(y, ref.data, model.numClasses);
      model.dispose();
    });
  }
});

const torchAvailable = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { stdio: 'ignore' }).status === 0;
if (process.env.CI && !torchAvailable) {
  throw new Error(`CI must have PyTorch: ${PYTHON} cannot import torch and torchvision (apt-get install python3-torch python3-torchvision)`);
}

describe.runIf(torchAvailable)('full-size torchvision VGGs exported by PyTorch', () => {
  const cases = [
    { arch: 'vgg11', layout: 'torchvision' },
    { arch: 'vgg11', layout: 'notebook' },
    { arch: 'vgg13', layout: 'torchvision' },
    { arch: 'vgg16', layout: 'torchvision' },
    { arch: 'vgg19', layout: 'torchvision' },
    // torchvision's BatchNorm variants (BatchNorm folded into the convolutions at compile time).
    { arch: 'vgg11_bn', layout: 'torchvision' },
    { arch: 'vgg13_bn', layout: 'torchvision' },
    { arch: 'vgg16_bn', layout: 'torchvision' },
    { arch: 'vgg19_bn', layout: 'torchvision' },
  ] as const;
  it.each(cases)('$arch ($layout keys, batch 2) matches PyTorch', async ({ arch, layout }) => {
    const ref = join(work, `${arch}-${layout}-torch`);
    const out = join(work, `${arch}-${layout}-vggc`);
    try {
      execFileSync(PYTHON, [join(ROOT, 'tools/torch_reference.py'), '--config', join(ROOT, 'examples', `${arch}.json`), '--out', ref, '--batch', '2', '--seed', '1', '--layout', layout], { stdio: 'pipe' });
      await compileModel({ configPath: join(ROOT, 'examples', `${arch}.json`), weightsPath: join(ref, 'weights.safetensors'), outDir: out });
      rmSync(join(ref, 'weights.safetensors')); // 0.5 GB each: keep the temp folder small
      const model = await loadModel(out);
      const x = readNpy(join(ref, 'input.npy'));
      const y = await model.infer(x.data, 2);
      const expected = readNpy(join(ref, 'logits.npy')).data;
      expectParity(y, expected, 1000);
      // Report the margin, not only pass/fail.
      console.log(`${arch} (${layout}): max|Δ|/max|y| = ${compareLogits(y, expected, 1000).relError.toExponential(2)}`);
      model.dispose();
    } finally {
      rmSync(ref, { recursive: true, force: true });
      rmSync(out, { recursive: true, force: true });
    }
  });
  it('the PyTorch reference really ran (guards against an empty comparison)', () => {
    expect(torchAvailable).toBe(true);
  });
});
