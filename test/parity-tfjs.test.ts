/**
 * vggc against TensorFlow.js (tfjs-core + cpu backend, test/reference/tfjs-vgg.ts) computing the same
 * network from the same weights — needs npm packages only, so it runs everywhere. Weights come from the
 * PyTorch goldens and from vggc's seeded initialiser (a config no golden covers).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';
import { parseConfig } from '../compiler/frontend/config/parse.js';
import { buildGraph } from '../compiler/graph/graph.js';
import { compileModel } from '../compiler/pipeline.js';
import { seededRandomWeights } from '../compiler/weights/random.js';
import { loadModel } from '../runtime/index.js';
import { readNpy } from '../runtime/npy.js';
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
