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

// --weights-dtype: PyTorch computes the same network with its own quantisation of the same weights
// (tools/torch_reference.py --quantize), so this checks vggc's rounding as well as its kernels.
describe.each(GOLDENS)('golden %s with quantised weights', (name) => {
  for (const dtype of ['f16', 'int8'] as const) {
    for (const kernels of ['wasmsimd', 'scalar-ref'] as const) {
      it(`--weights-dtype ${dtype}, ${kernels} kernels: match PyTorch's logits-${dtype}.npy`, async () => {
        const dir = await compileGolden(name, kernels, join(work, dtype), { weightsDtype: dtype });
        const model = await loadModel(dir);
        expect(model.manifest.weights.dtype).toBe(dtype);
        const x = readNpy(join(GOLDEN, name, 'input.npy'));
        const expected = readNpy(join(GOLDEN, name, `logits-${dtype}.npy`)).data;
        const y = await model.infer(x.data, x.shape[0]);
        expectParity(y, expected, model.numClasses);
        // 9 images (the golden's, repeated): two 4-image GEMM tiles and the GEMV tail, each against PyTorch.
        const n = x.shape[0];
        const image = x.data.length / n;
        const x9 = new Float32Array(9 * image).map((_, i) => x.data[(Math.floor(i / image) % n) * image + (i % image)]);
        const expected9 = new Float32Array(9 * model.numClasses).map((_, i) => expected[(Math.floor(i / model.numClasses) % n) * model.numClasses + (i % model.numClasses)]);
        expectParity(await model.infer(x9, 9), expected9, model.numClasses);
        model.dispose();
        // The quantisation really happened: int8 moves the logits far beyond the parity tolerance
        // (f16 too, except gray-odd, whose weights are stored as F16 already).
        const f32 = readNpy(join(GOLDEN, name, 'logits.npy')).data;
        if (dtype === 'int8' || name !== 'gray-odd') expect(compareLogits(y, f32, model.numClasses).relError).toBeGreaterThan(1e-4);
      });
    }
  }
});

const torchAvailable = spawnSync(PYTHON, ['-c', 'import torch, torchvision'], { stdio: 'ignore' }).status === 0;
if (process.env.CI && !torchAvailable) {
  throw new Error(`CI must have PyTorch: ${PYTHON} cannot import torch and torchvision (apt-get install python3-torch python3-torchvision)`);
}

describe.runIf(torchAvailable)('full-size torchvision VGGs exported by PyTorch', () => {
  const cases = [
    { arch: 'vgg11', layout: 'torchvision', dtype: 'f32' },
    { arch: 'vgg11', layout: 'notebook', dtype: 'f32' },
    { arch: 'vgg13', layout: 'torchvision', dtype: 'f32' },
    { arch: 'vgg16', layout: 'torchvision', dtype: 'f32' },
    { arch: 'vgg19', layout: 'torchvision', dtype: 'f32' },
    // torchvision's BatchNorm variants (BatchNorm folded into the convolutions at compile time).
    { arch: 'vgg11_bn', layout: 'torchvision', dtype: 'f32' },
    { arch: 'vgg13_bn', layout: 'torchvision', dtype: 'f32' },
    { arch: 'vgg16_bn', layout: 'torchvision', dtype: 'f32' },
    { arch: 'vgg19_bn', layout: 'torchvision', dtype: 'f32' },
    // --weights-dtype at full size, against PyTorch running the same quantisation.
    { arch: 'vgg11', layout: 'torchvision', dtype: 'int8' },
    { arch: 'vgg11_bn', layout: 'torchvision', dtype: 'f16' },
  ] as const;
  it.each(cases)('$arch ($layout keys, batch 2, weights $dtype) matches PyTorch', async (c) => {
    const { arch, layout, dtype } = c;
    const ref = join(work, `${arch}-${layout}-${dtype}-torch`);
    const out = join(work, `${arch}-${layout}-${dtype}-vggc`);
    try {
      const quantize = dtype === 'f32' ? [] : ['--quantize', dtype];
      execFileSync(PYTHON, [join(ROOT, 'tools/torch_reference.py'), '--config', join(ROOT, 'examples', `${arch}.json`), '--out', ref, '--batch', '2', '--seed', '1', '--layout', layout, ...quantize], { stdio: 'pipe' });
      await compileModel({ configPath: join(ROOT, 'examples', `${arch}.json`), weightsPath: join(ref, 'weights.safetensors'), outDir: out, weightsDtype: dtype });
      rmSync(join(ref, 'weights.safetensors')); // 0.5 GB each: keep the temp folder small
      const model = await loadModel(out);
      const x = readNpy(join(ref, 'input.npy'));
      const y = await model.infer(x.data, 2);
      const expected = readNpy(join(ref, dtype === 'f32' ? 'logits.npy' : `logits-${dtype}.npy`)).data;
      expectParity(y, expected, 1000);
      // Report the margin, not only pass/fail.
      console.log(`${arch} (${layout}, ${dtype}): max|Δ|/max|y| = ${compareLogits(y, expected, 1000).relError.toExponential(2)}`);
      model.dispose();
    } finally {
      rmSync(ref, { recursive: true, force: true });
      rmSync(out, { recursive: true, force: true });
    }
  });
});
