/**
 * vggc against TensorFlow.js (tfjs-core + cpu backend, test/reference/tfjs-vgg.ts) computing the same
 * network from the same weights — needs npm packages only, so it runs everywhere. Weights come from the
 * PyTorch goldens and from vggc's seeded initialiser (a config no golden covers).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../compiler/frontend/config/parse.js';
import { buildGraph } from '../compiler/graph/graph.js';
import { compileModel } from '../compiler/pipeline.js';
import { seededRandomWeights } from '../compiler/weights/random.js';
import { loadModel } from '../runtime/index.js';
import { readNpy } from '../runtime/npy.js';
import { writeSafetensors } from '../compiler/frontend/safetensors/write.js';
import { compileGolden, expectParity, GOLDEN, GOLDENS, tempDir } from './helpers.js';
import { readSafetensors } from './reference/safetensors.js';
import { notebookKeyMap, tfjsForward } from './reference/tfjs-vgg.js';

const work = tempDir();

describe.each(GOLDENS)('golden %s', (name) => {
  it('vggc logits match TensorFlow.js on the same weights', async () => {
    const configPath = join(GOLDEN, name, 'config.json');
    const config = parseConfig(readFileSync(configPath, 'utf8'), configPath);
    const { tensors, metadata } = readSafetensors(join(GOLDEN, name, 'weights.safetensors'));
    const rename = metadata.layout === 'notebook' ? notebookKeyMap(config) : undefined;
    const weights = new Map([...tensors].map(([k, t]) => [rename?.get(k) ?? k, t.data]));
    const x = readNpy(join(GOLDEN, name, 'input.npy'));
    const expected = await tfjsForward(config, weights, x.data, x.shape[0]);
    const model = await loadModel(await compileGolden(name, 'wasmsimd', work));
    expectParity(await model.infer(x.data, x.shape[0]), expected, config.numClasses);
    model.dispose();
  });
});

describe('seeded random weights, 3×64×80 input', () => {
  it.each([3, 9])('batch %i: vggc logits match TensorFlow.js (and the scalar reference)', async (n) => {
    const configPath = join(work, 'random.json');
    writeFileSync(configPath, JSON.stringify({ name: 'random', blocks: [[3, 1, 16], [16, 1, 32], [32, 2, 48], [48, 2, 64]], inputSize: [64, 80], avgPool: [3, 3], classifier: [96, 64], numClasses: 20 }));
    const config = parseConfig(readFileSync(configPath, 'utf8'), configPath);
    const params = buildGraph(config).params;
    const source = seededRandomWeights(params, 11);
    const weights = new Map(params.map((p) => [p.key, source.readRows(p, 0, p.shape[0])]));
    // Batch 9 = a group of 8 (two 4-image classifier tiles) and a group of 1 (the GEMV tail).
    const x = new Float32Array(n * 3 * 64 * 80).map((_, i) => Math.sin(i * 0.37) * 0.8);
    const expected = await tfjsForward(config, weights, x, n);
    for (const kernels of ['wasmsimd', 'scalar-ref'] as const) {
      const outDir = join(work, `random-${kernels}`);
      await compileModel({ configPath, outDir, seed: 11, kernels });
      const model = await loadModel(outDir);
      const y = await model.infer(x, n);
      expectParity(y, expected, config.numClasses);
      // Each image's logits do not depend on which other images share its batch.
      const last = n - 1;
      const single = await model.infer(x.subarray(last * 3 * 64 * 80, n * 3 * 64 * 80));
      expectParity(y.subarray(last * 20, n * 20), single, config.numClasses);
      model.dispose();
    }
  });
});

// The heads that models from PyTorch checkpoints and TF.js/Keras bring: an adaptive max pool, a hidden
// layer without ReLU, BatchNorm with Keras's ε = 1e-3 and real statistics, and a softmax or sigmoid at
// the end (vggc computes it in wasm with its own exp).
describe('heads: max pool, a hidden layer without ReLU, BatchNorm ε 1e-3, softmax and sigmoid', () => {
  const heads = {
    'max-pool, softmax': { maxPool: [1, 1], classifier: [{ features: 24, relu: false }, 20], finalActivation: 'softmax' },
    'avg-pool 2×2, sigmoid': { avgPool: [2, 2], classifier: [30], finalActivation: 'sigmoid' },
    'flatten, no hidden layer, softmax': { avgPool: null, classifier: [], finalActivation: 'softmax' },
  } as const;
  it.each(Object.entries(heads))('%s: vggc matches TensorFlow.js, batches 1 and 5', async (label, head) => {
    const configPath = join(work, `head-${label.replace(/\W+/g, '-')}.json`);
    writeFileSync(configPath, JSON.stringify({ name: 'head', blocks: [[3, 1, 16], [16, 2, 24]], inputSize: [20, 24], batchNorm: true, batchNormEps: 1e-3, numClasses: 7, ...head }));
    const config = parseConfig(readFileSync(configPath, 'utf8'), configPath);
    const params = buildGraph(config).params;
    // BatchNorm statistics far from the init's (γ 1, β 0, mean 0, var 1), so that ε and the fold matter.
    const values = (n: number, k: number, lo: number, hi: number): Float32Array => new Float32Array(n).map((_, i) => lo + (hi - lo) * (0.5 + 0.5 * Math.sin(k * 7.1 + i * 1.37)));
    const tensors = params.map((p, k) => {
      const n = p.shape.reduce((a, b) => a * b, 1);
      const name = p.key.split('.').pop();
      const isBn = p.shape.length === 1 && params.some((q) => q.key === p.key.replace(/\.[a-z_]+$/, '.running_var'));
      const data = !isBn ? values(n, k, -0.3, 0.3) : name === 'running_var' ? values(n, k, 1e-4, 0.05) : name === 'running_mean' ? values(n, k, -0.5, 0.5) : values(n, k, 0.2, 1.8);
      return { key: p.key, shape: [...p.shape], data };
    });
    const weightsPath = join(work, `head-${label.replace(/\W+/g, '-')}.safetensors`);
    writeSafetensors(weightsPath, tensors);
    const weights = new Map(tensors.map((t) => [t.key, t.data]));
    const outDir = join(work, `head-${label.replace(/\W+/g, '-')}`);
    await compileModel({ configPath, weightsPath, outDir });
    const model = await loadModel(outDir);
    expect(model.manifest.steps.at(-1)!.kernel).toBe(head.finalActivation === 'softmax' ? 'f32-softmax-scalar' : 'f32-sigmoid-scalar');
    for (const n of [1, 5]) {
      const x = new Float32Array(n * 3 * 20 * 24).map((_, i) => Math.sin(i * 0.41) * 1.5);
      const y = await model.infer(x, n);
      expectParity(y, await tfjsForward(config, weights, x, n), config.numClasses);
      if (head.finalActivation === 'softmax') for (let i = 0; i < n; i++) expect(y.subarray(i * 7, (i + 1) * 7).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    }
    model.dispose();
  });
});
