// Quantised TF.js weights (tensorflowjs_converter --quantize_uint8 / --quantize_uint16 /
// --quantize_float16): shards quantised here with the converter's formula, decoded by the reader
// and by tfjs-core's tf.io.decodeWeights, compared bit for bit (float32 bit patterns, NaN payloads
// included), over every uint16 code, every half-precision pattern, and whole models.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { importTfjsModel } from '../compiler/frontend/tfjs/index.js';
import { rawWeight } from '../compiler/frontend/tfjs/decode.js';
import type { WeightStorage } from '../compiler/frontend/tfjs/manifest.js';
import { quantizeAll, readAll, saveArtifacts, tf, useCpuBackend, writeTfjsModel, type Quantization } from './tfjs-helpers.js';
import { buildVgg, type VggModelSpec } from './tfjs-models.js';
import { tempDir } from './helpers.js';

const work = tempDir('vggc-tfjs-quant-');
beforeAll(useCpuBackend);

const bits = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

/** tfjs-core's decoding of one weight stored as `bytes`. */
function tfjsDecode(bytes: Uint8Array, shape: number[], quantization: Record<string, unknown>): Float32Array {
  const buffer = bytes.slice().buffer;
  const spec = { name: 'w', shape, dtype: 'float32', quantization } as unknown as tf.io.WeightsManifestEntry;
  return tf.io.decodeWeights(buffer, [spec]).w.dataSync() as Float32Array;
}

function readerDecode(bytes: Uint8Array, storage: WeightStorage, count: number): Float32Array {
  const raw = rawWeight(storage, count);
  raw.bytes.set(bytes);
  return raw.decode();
}

describe('decoder against tf.io.decodeWeights', () => {
  it('float16: all 65,536 half patterns (±0, subnormals, ±Inf, NaN payloads)', () => {
    const halves = new Uint16Array(65536).map((_, i) => i);
    const bytes = new Uint8Array(halves.buffer);
    expect(bits(readerDecode(bytes, { kind: 'float16' }, 65536))).toEqual(bits(tfjsDecode(bytes, [65536], { dtype: 'float16' })));
  });

  it.each([
    ['uint16', 0.1 / 65535, -0.0333251953125 + 1e-17],
    ['uint16', 3.7e-7, 1.2345],
    ['uint8', 0.00509803940852, -0.10196078817],
    ['uint8', 1, -128],
    ['uint8', 1e-30, 0],
  ] as const)('%s: every code with scale %s, min %s', (dtype, scale, min) => {
    const n = dtype === 'uint8' ? 256 : 65536;
    const codes = dtype === 'uint8' ? new Uint8Array(n).map((_, i) => i) : new Uint16Array(n).map((_, i) => i);
    const bytes = new Uint8Array(codes.buffer);
    const ours = readerDecode(bytes, { kind: dtype, scale, min }, n);
    expect(bits(ours)).toEqual(bits(tfjsDecode(bytes, [n], { dtype, scale, min })));
  });
});

describe('quantised models', () => {
  const spec: VggModelSpec = {
    name: 'quantised',
    input: [10, 12, 3],
    blocks: [{ filters: 6, convs: 1, style: 'bn-relu' }, { filters: 8, convs: 2 }],
    head: 'flatten',
    dense: [{ units: 10, activation: 'relu' }, { units: 4, activation: 'softmax' }],
    seed: 11,
  };

  it.each(['uint8', 'uint16', 'float16'] as Quantization[])('%s shards (converter form, 300-byte shards) decode as tfjs decodes them', async (q) => {
    const model = buildVgg(spec);
    const saved = await saveArtifacts(model);
    const { path, specs, data } = writeTfjsModel(saved, join(work, q), { quantize: q, form: 'converter', shardBytes: 300 });
    expect(data.length).toBe(saved.data.length / (q === 'uint8' ? 4 : 2));
    expect(specs.every((s) => s.quantization?.dtype === q)).toBe(true);
    const reference = tf.io.decodeWeights(data.slice().buffer, specs);
    const net = importTfjsModel(path);
    const ref = (name: string) => reference[name];
    // Vectors: as stored. Kernels: tfjs's own transposes of tfjs's decoded values.
    const conv = (c: number) => tf.transpose(ref(`${['block1_conv1', 'block2_conv1', 'block2_conv2'][c]}/kernel`), [3, 2, 0, 1]).dataSync() as Float32Array;
    net.convs.forEach((cv, c) => expect(bits(readAll(cv.weight))).toEqual(bits(conv(c))));
    expect(bits(readAll(net.convs[0].bias!))).toEqual(bits(ref('block1_conv1/bias').dataSync() as Float32Array));
    const bn = net.convs[0].batchNorm!;
    for (const [t, name] of [[bn.weight, 'gamma'], [bn.bias, 'beta'], [bn.runningMean, 'moving_mean'], [bn.runningVar, 'moving_variance']] as const) {
      const want = ref(`block1_bn1/${name}`).dataSync() as Float32Array;
      expect(bits(readAll(t!))).toEqual(bits(want));
      expect(bits(t!.read(2, 3))).toEqual(bits(want.subarray(2, 5))); // a range read starts mid-weight, maybe mid-shard
    }
    // fc1 after Flatten of the 2×3×8 map: rows (h, w, c) → (c, h, w).
    const fc1 = tf.reshape(tf.transpose(tf.reshape(ref('fc1/kernel'), [2, 3, 8, 10]), [3, 2, 0, 1]), [10, 48]).dataSync() as Float32Array;
    expect(bits(readAll(net.linears[0].weight))).toEqual(bits(fc1));
    expect(bits(readAll(net.linears[1].weight))).toEqual(bits(tf.transpose(ref('predictions/kernel')).dataSync() as Float32Array));
    // Quantisation really changed the values (the test would be vacuous otherwise), but not by much.
    const exact = model.getLayer('predictions').getWeights()[0];
    const diff = tf.max(tf.abs(tf.sub(ref('predictions/kernel'), exact))).dataSync()[0];
    expect(diff).toBeGreaterThan(0);
    expect(diff).toBeLessThan(q === 'uint8' ? 0.01 : 1e-3);
  });

  it('older converter manifests without original_dtype read the same', async () => {
    const saved = await saveArtifacts(buildVgg(spec));
    const withOriginal = writeTfjsModel(saved, join(work, 'u8-original'), { quantize: 'uint8' });
    const without = writeTfjsModel(saved, join(work, 'u8-plain'), {
      quantize: 'uint8',
      edit: (json) => json.weightsManifest[0].weights.forEach((w: any) => delete w.quantization.original_dtype),
    });
    const a = importTfjsModel(withOriginal.path);
    const b = importTfjsModel(without.path);
    expect(readAll(b.linears[0].weight)).toEqual(readAll(a.linears[0].weight));
    expect(quantizeAll(saved, 'uint8').specs[0].quantization).toMatchObject({ dtype: 'uint8', original_dtype: 'float32' });
  });
});
