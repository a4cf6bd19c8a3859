/**
 * Pins the exact bits the deterministic build computes: SHA-256 of the raw float32 logits of every
 * examples/*.json config (seeded weights, seed 0) and of the trained Fashion-MNIST example, for a
 * fixed input batch. A refactoring must leave these hashes unchanged; a change to a kernel's
 * arithmetic changes them, and then the new hashes are recorded in the same commit with the reason
 * (run with VGGC_PRINT_HASHES=1 to print them).
 *
 * The batch has 5 images, so the classifier runs both its 4-image GEMM tile and the 1-image GEMV.
 * Parity with PyTorch is checked elsewhere (parity-torch.test.ts): this test pins, it does not judge.
 */
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compileModel } from '../compiler/pipeline.js';
import { loadModel } from '../runtime/index.js';
import { readNpy } from '../runtime/npy.js';
import { ROOT, tempDir } from './helpers.js';

const work = tempDir('vggc-bits-');
const BATCH = 5;
const printed: string[] = [];
afterAll(() => {
  if (process.env.VGGC_PRINT_HASHES) console.log(printed.join('\n'));
});

/**
 * Recorded on Node 20, one thread. History: first with the code of 2fe2cc6, before the issue-11
 * restructuring, which left every hash unchanged; re-recorded when the classifier began summing every
 * output in input order on all paths (one image's logits no longer depend on its batch).
 * Re-recorded for f32 in issue 15: f32 models store the 3×3 filters and compute the Winograd filters
 * in f32 at load, as f16/int8 did (the f16/int8 hashes are unchanged); parity-torch.test.ts still holds.
 * Re-recorded in issue 16 for the full-size configs: the scheduler picks F(4×4), F(5×5) or F(6×6) per
 * layer (other sums, so other roundings); Fashion-MNIST's 28×28 layers keep F(4×4), and its hashes.
 * (The 5-row GEMM tiles before it changed no hash: same sums in the same order.)
 */
const EXPECTED: Record<string, string> = {
  'vgg11.json': '8644c3fa9ed8a17a7d9e44c19f0f07f066a7e24e70badb8e4c846f933ac6c551',
  'vgg11_bn.json': '483cd92026c30614fd4cd3736cfb574571db758bda79967b3dc441cc9c1385d8',
  'vgg13.json': 'b305690d4cff923f3114822fa6311eb1725f45b04522d67bb518ea2890eceac9',
  'vgg13_bn.json': '7afe228e401f916fd8334ca2a68fbf4e8bfd45bfce575f836734c0d2f837f052',
  'vgg16.json': '6f3da6b49f04bad459d17eb957ba65c8c7bada4608251ce9ba833329c310f1a9',
  'vgg16_bn.json': '2b08dc4cbe8672f0f5a86a431877af56b0a92a60387fb57e95382948ca9397bb',
  'vgg19.json': 'dcbb47e4171461036d433906c6aefd58bdd49d3e2bb2553be91603ed9b4d9c11',
  'vgg19_bn.json': 'bae67d4ec814e2872c2640c96dffb9d0da39fce636af97db35d8a4e1a636d191',
  'vgg11.json f16': 'a124d40d266985a4b65fb9da7964ebec086c501723f8b40ce810b30b244b5108',
  'vgg11.json int8': 'c1fc5fe9218306ef1df8d93388468d154f91f29689780eb08fd4bf4465eeee9c',
  'fashion-mnist f32': '3079919892f43efa8ec562672822b60867b6d96a17e1f1cd3886dd2a60164ad1',
  'fashion-mnist f16': 'd3dd94a7103f8303053e90dbac8c5bfe4a3cf329d1fe4d131b3d5f29755a77e5',
  'fashion-mnist int8': 'd07ff0b49ce4b24f0940d3366421e0fcf306b8b53140b2996293123e9612dd01',
};

/** A fixed pseudo-random batch in [-1.5, 1.5): the same bits on every machine. */
function fixedInput(floats: number): Float32Array {
  const x = new Float32Array(floats);
  let s = 12345;
  for (let i = 0; i < floats; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = (s / 2 ** 32) * 3 - 1.5;
  }
  return x;
}

const sha = (a: Float32Array): string => createHash('sha256').update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)).digest('hex');

async function logitsHash(dir: string, input?: Float32Array, n = BATCH): Promise<string> {
  const model = await loadModel(dir, { threads: 1, build: 'deterministic' });
  try {
    const [c, h, w] = model.inputShape;
    const y = await model.infer(input ?? fixedInput(n * c * h * w), n);
    return sha(y);
  } finally {
    model.dispose();
  }
}

function check(name: string, hash: string): void {
  printed.push(`  '${name}': '${hash}',`);
  expect(EXPECTED[name], `no hash recorded for ${name}`).toBeDefined();
  expect(hash, name).toBe(EXPECTED[name]);
}

const configs = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.json')).sort();

describe('deterministic logits are bit-identical to the recorded ones', () => {
  it('finds the example configs', () => expect(configs.length).toBeGreaterThanOrEqual(8));

  it.each(configs)('%s, seeded weights', async (file) => {
    const outDir = join(work, file);
    await compileModel({ configPath: join(ROOT, 'examples', file), outDir, seed: 0, onProgress: () => {} });
    check(file, await logitsHash(outDir));
  });

  it.each(['f16', 'int8'] as const)('vgg11.json, seeded weights stored as %s', async (weightsDtype) => {
    const outDir = join(work, `vgg11-${weightsDtype}`);
    await compileModel({ configPath: join(ROOT, 'examples/vgg11.json'), outDir, seed: 0, weightsDtype });
    check(`vgg11.json ${weightsDtype}`, await logitsHash(outDir));
  });

  it.each(['f32', 'f16', 'int8'] as const)('the trained Fashion-MNIST example (%s), its 50 sample images', async (weightsDtype) => {
    const example = join(ROOT, 'examples/fashion-mnist');
    const outDir = join(work, `fashion-mnist-${weightsDtype}`);
    await compileModel({ configPath: join(example, 'fashion-mnist.json'), weightsPath: join(example, 'weights.safetensors'), outDir, weightsDtype });
    const x = readNpy(join(example, 'samples-input.npy'));
    check(`fashion-mnist ${weightsDtype}`, await logitsHash(outDir, x.data, x.shape[0]));
  });
});
