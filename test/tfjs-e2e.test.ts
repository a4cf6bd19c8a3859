// End to end, no config: tfjs-layers models → model.json + shards → `vggc compile model.json`
// (compileModel, the network from the topology) → loadModel → infer, on the same images as
// model.predict (NHWC for tfjs, NCHW for vggc). Agreement within 1e-4 · max|y| proves the HWIO
// transposition, the Flatten (h, w, c) → (c, h, w) permutation, BatchNorm with Keras's ε and every
// head: Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D, Dense relu and linear hidden layers,
// and a linear, softmax or sigmoid last layer (vggc returns what the model returns).
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileModel } from '../compiler/pipeline.js';
import { loadModel } from '../runtime/index.js';
import { nhwcToNchw, relError, saveArtifacts, tf, tfl, uniform, useCpuBackend, writeTfjsModel, type WriteOptions } from './tfjs-helpers.js';
import { buildVgg, predict, type VggModelSpec } from './tfjs-models.js';
import { tempDir } from './helpers.js';

const work = tempDir('vggc-tfjs-e2e-');
beforeAll(useCpuBackend);

const TOLERANCE = 1e-4;
const BATCH = 3;

interface Outcome {
  readonly relError: number;
  readonly logRelError?: number;
}

/**
 * Saves `model`, imports it, compiles it with vggc and compares vggc's outputs with `reference`
 * (model.predict of the model tfjs itself would load from the same files).
 */
async function compareWithVggc(id: string, model: tfl.LayersModel, opts: WriteOptions, loadedByTfjs?: (saved: ReturnType<typeof writeTfjsModel>) => Promise<tfl.LayersModel>): Promise<Outcome> {
  const dir = join(work, id);
  const written = writeTfjsModel(await saveArtifacts(model), join(dir, 'tfjs'), opts);
  const reference = loadedByTfjs ? await loadedByTfjs(written) : model;
  const outDir = join(dir, 'vggc');
  const { manifest } = await compileModel({ configPath: written.path, outDir });

  const [h, w, c] = (reference.inputs[0].shape as number[]).slice(1);
  const x = uniform(BATCH * h * w * c, 1234);
  const y = predict(reference, x, [BATCH, h, w, c]);
  const vggc = await loadModel(outDir, { threads: 1 });
  try {
    // A softmax or sigmoid head: vggc returns probabilities, as model.predict does.
    const out = await vggc.infer(nhwcToNchw(x, BATCH, h, w, c), BATCH);
    if ((manifest.config.finalActivation ?? 'none') === 'none') return { relError: relError(out, y) };
    return { relError: relError(out, y), logRelError: relError(Float64Array.from(out, Math.log), y.map(Math.log)) };
  } finally {
    vggc.dispose();
  }
}

function expectClose(o: Outcome): void {
  expect(o.relError).toBeLessThanOrEqual(TOLERANCE);
  if (o.logRelError !== undefined) expect(o.logRelError).toBeLessThanOrEqual(TOLERANCE);
}

describe('vggc against model.predict', () => {
  it('Sequential, Flatten at a 3×2 map, Dense relu hidden layers, softmax; 97-byte shards', async () => {
    const spec: VggModelSpec = {
      name: 'e2e_flatten',
      input: [12, 10, 3],
      blocks: [{ filters: 4, convs: 1 }, { filters: 6, convs: 2 }],
      head: 'flatten',
      dense: [{ units: 8, activation: 'relu' }, { units: 7, activation: 'relu' }, { units: 5, activation: 'softmax' }],
      dropout: true,
      seed: 31,
    };
    const o = await compareWithVggc('flatten', buildVgg(spec), { shardBytes: 97 });
    console.log(`flatten 3×2 softmax: max error ${o.relError.toExponential(2)} · max|y| (probabilities), ${o.logRelError!.toExponential(2)} (log-probabilities)`);
    expectClose(o);
  });

  it('Functional, Conv2D(linear) → BatchNormalization(ε 1e-3) → ReLU / Activation, GlobalAveragePooling2D, linear logits; converter form', async () => {
    const spec: VggModelSpec = {
      name: 'e2e_bn_gap',
      input: [16, 12, 3],
      blocks: [{ filters: 6, convs: 2, style: 'bn-relu' }, { filters: 8, convs: 1, style: 'bn-activation' }, { filters: 8, convs: 1, style: 'bn-relu' }],
      head: 'gap',
      dense: [{ units: 10, activation: 'relu' }, { units: 4, activation: 'linear' }],
      functional: true,
      seed: 32,
    };
    const o = await compareWithVggc('bn-gap', buildVgg(spec), { form: 'converter', shardBytes: 1000 });
    console.log(`BatchNorm ε 1e-3 + GAP, linear: max error ${o.relError.toExponential(2)} · max|y|`);
    expectClose(o);
  });

  it('float16-quantised shards: vggc matches tfjs running the same quantised files (Flatten at 2×2, BatchNorm mixed with plain convs)', async () => {
    const spec: VggModelSpec = {
      name: 'e2e_f16',
      input: [8, 8, 2],
      blocks: [{ filters: 5, convs: 1, style: 'bn-relu' }, { filters: 7, convs: 1 }],
      head: 'flatten',
      dense: [{ units: 6, activation: 'linear' }],
      seed: 33,
    };
    const model = buildVgg(spec);
    // tfjs loads the quantised artifacts itself (io_utils decodes them), so both sides see the same weights.
    const loadQuantised = async (w: ReturnType<typeof writeTfjsModel>) => {
      const { readFileSync } = await import('node:fs');
      const json = JSON.parse(readFileSync(w.path, 'utf8'));
      return tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: w.specs, weightData: w.data.slice().buffer }));
    };
    const o = await compareWithVggc('f16', model, { quantize: 'float16', shardBytes: 128 }, loadQuantised);
    console.log(`float16 shards, Flatten 2×2: max error ${o.relError.toExponential(2)} · max|y|`);
    expectClose(o);
  });

  it('Sequential, GlobalMaxPooling2D, a Dense(linear) hidden layer, sigmoid (multi-label)', async () => {
    const spec: VggModelSpec = {
      name: 'e2e_gmp_sigmoid',
      input: [16, 16, 3],
      blocks: [{ filters: 4, convs: 2 }, { filters: 8, convs: 1, style: 'bn-relu' }],
      head: 'gmp',
      dense: [{ units: 9, activation: 'linear' }, { units: 7, activation: 'relu' }, { units: 6, activation: 'sigmoid' }],
      seed: 34,
    };
    const o = await compareWithVggc('gmp-sigmoid', buildVgg(spec), { shardBytes: 256 });
    console.log(`GlobalMaxPooling2D + linear hidden + sigmoid: max error ${o.relError.toExponential(2)} · max|y|, ${o.logRelError!.toExponential(2)} (log)`);
    expectClose(o);
  });

  it('Functional, Dense(linear) + a ReLU layer, a final Activation(softmax) layer, uint8-quantised shards', async () => {
    const spec: VggModelSpec = {
      name: 'e2e_q8',
      input: [12, 12, 3],
      blocks: [{ filters: 6, convs: 1 }, { filters: 6, convs: 1, style: 'bn-activation' }],
      head: 'flatten',
      dense: [{ units: 10, activation: 'relu-layer' }, { units: 4, activation: 'linear' }],
      finalLayer: 'activation-softmax',
      functional: true,
      seed: 35,
    };
    const model = buildVgg(spec);
    const loadQuantised = async (w: ReturnType<typeof writeTfjsModel>) => {
      const { readFileSync } = await import('node:fs');
      const json = JSON.parse(readFileSync(w.path, 'utf8'));
      return tfl.loadLayersModel(tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: w.specs, weightData: w.data.slice().buffer }));
    };
    const o = await compareWithVggc('q8', model, { quantize: 'uint8', shardBytes: 200 }, loadQuantised);
    console.log(`uint8 shards, Activation(softmax): max error ${o.relError.toExponential(2)} · max|y|, ${o.logRelError!.toExponential(2)} (log)`);
    expectClose(o);
  });
});
