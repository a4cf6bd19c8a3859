/**
 * Keras-named outputs of a TF.js model (`vggc compile model.json --outputs block1_conv1,…`) against
 * the same tfjs-layers model's intermediate outputs, tf.model({ inputs, outputs: [layer.output …] }):
 * post-ReLU Conv2D(relu) taps (Keras's block4_conv3 is after its ReLU), BatchNormalization and ReLU
 * layers, a linear Conv2D before its ReLU layer, pools, Flatten (Keras's (h, w, c) order under
 * outputLayout nhwc, torch's (c, h, w) under nchw), Dense layers before and after a ReLU layer, and
 * the softmax predictions; NHWC and NCHW, batch 3, 1 and 2 threads. Within 1e-4·max|y|.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileModel } from '../compiler/pipeline.js';
import { loadModel } from '../runtime/index.js';
import { tempDir, TOLERANCE } from './helpers.js';
import { nhwcToNchw, saveArtifacts, tf, tfl, uniform, useCpuBackend, writeTfjsModel } from './tfjs-helpers.js';
import { buildVgg, type VggModelSpec } from './tfjs-models.js';

const work = tempDir('vggc-outputs-tfjs-');
let model: tfl.LayersModel;
let modelJson: string;
beforeAll(async () => {
  await useCpuBackend();
  model = buildVgg(SPEC);
  modelJson = writeTfjsModel(await saveArtifacts(model), join(work, 'tfjs')).path;
});

const BATCH = 3;
const SPEC: VggModelSpec = {
  name: 'taps',
  input: [24, 16, 3],
  blocks: [
    { filters: 4, convs: 2, style: 'relu' },
    { filters: 6, convs: 2, style: 'bn-relu' },
    { filters: 8, convs: 1, style: 'linear-relu' },
  ],
  head: 'flatten',
  dense: [{ units: 10, activation: 'relu' }, { units: 9, activation: 'relu-layer' }, { units: 5, activation: 'softmax' }],
  seed: 41,
};
/** Keras layer names asked for, with the conventional name each one is. */
const TAPS: Readonly<Record<string, string>> = {
  block1_conv1: 'relu1_1',
  block1_pool: 'pool1',
  block2_bn1: 'conv2_1',
  block2_relu2: 'relu2_2',
  block3_conv1: 'conv3_1',
  block3_pool: 'pool3',
  flatten: 'flatten',
  fc1: 'fc6',
  fc2: 'fc7_pre',
  fc2_relu: 'fc7',
  predictions: 'probabilities',
};

function expectClose(got: Float32Array, want: Float32Array, what: string): void {
  expect(got.length, what).toBe(want.length);
  let diff = 0;
  let max = 0;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want[i]));
    max = Math.max(max, Math.abs(want[i]));
  }
  expect(max, `${what}: the reference is all zero`).toBeGreaterThan(0);
  expect(diff / max, what).toBeLessThanOrEqual(TOLERANCE);
}

describe('Keras-named taps of a TF.js model', () => {
  it('match the tfjs-layers model’s intermediate outputs, NHWC and NCHW, 1 and 2 threads', async () => {
    const names = Object.keys(TAPS);
    const [h, w, c] = SPEC.input;
    const x = uniform(BATCH * h * w * c, 77);
    // What tfjs computes at each layer: NHWC maps, Keras-order flattens.
    const taps = tfl.model({ inputs: model.inputs, outputs: names.map((n) => model.getLayer(n).output as tfl.SymbolicTensor) });
    const want = tf.tidy(() => (taps.predict(tf.tensor4d(x, [BATCH, h, w, c])) as tf.Tensor[]).map((t) => ({ shape: t.shape as number[], data: (t.dataSync() as Float32Array).slice() })));
    for (const layout of ['nhwc', 'nchw'] as const) {
      const outDir = join(work, `vggc-${layout}`);
      const { manifest } = await compileModel({ configPath: modelJson, outDir, outputs: names, outputLayout: layout });
      expect(manifest.outputs.map((o) => o.name)).toEqual(names);
      for (const threads of [1, 2]) {
        const vggc = await loadModel(outDir, { threads });
        try {
          const all = await vggc.inferAll(nhwcToNchw(x, BATCH, h, w, c), BATCH);
          names.forEach((name, k) => {
            const ref = want[k];
            const what = `${name} (${TAPS[name]}), ${layout}, ${threads} thread(s)`;
            if (ref.shape.length === 4 && layout === 'nchw') {
              const [, rh, rw, rc] = ref.shape;
              expect(all[name].shape, what).toEqual([BATCH, rc, rh, rw]);
              expectClose(all[name].data, nhwcToNchw(ref.data, BATCH, rh, rw, rc), what);
            } else if (name === 'flatten' && layout === 'nchw') {
              // torch's order: block3_pool's NHWC map transposed to (c, h, w), then flattened.
              const pool = want[names.indexOf('block3_pool')];
              const [, ph, pw, pc] = pool.shape;
              expect(all[name].shape, what).toEqual(ref.shape);
              expectClose(all[name].data, nhwcToNchw(pool.data, BATCH, ph, pw, pc), what);
            } else {
              expect(all[name].shape, what).toEqual(ref.shape);
              expectClose(all[name].data, ref.data, what);
            }
          });
        } finally {
          vggc.dispose();
        }
      }
    }
    expect(model.getLayer('flatten').outputShape).toEqual([null, 48]);
  });

  it('summary lists each layer’s Keras name beside the conventional ones', async () => {
    const { renderSummary } = await import('../compiler/summary/summary.js');
    const { readModelInput } = await import('../compiler/frontend/index.js');
    const { planFromConfig } = await import('../compiler/pipeline.js');
    const input = readModelInput(modelJson);
    const text = renderSummary(planFromConfig(input.config, 'model.json', {}, input.layerNames), undefined, input.layerNames);
    for (const [keras, canonical] of Object.entries(TAPS)) expect(text).toMatch(new RegExp(`\\b${canonical}\\b.*\\b${keras}\\b`));
  });
});
