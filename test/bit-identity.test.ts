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

/** Recorded with the code of 2fe2cc6 (before the issue-11 restructuring), Node 20, one thread. */
const EXPECTED: Record<string, string> = {
  'vgg11.json': 'cce294581f12753b737e2a4985063589cb37ce16c1269da6c2dd12783e4d0828',
  'vgg11_bn.json': '3baa2ad8bad110de0f6dcd5bec26142942a0feb93520453383899cfa88abf0f4',
  'vgg13.json': 'fb130d80a2176ecdc4d1b6bf95d6a53186b911e97fa3a0181262a9bf3a0a3ff2',
  'vgg13_bn.json': '241d8ef62e7812478d642e5e7145413447b3e9570562e07cf3fc2032ed4ee8cf',
  'vgg16.json': '3084cbd0d8afd7d9549891116afa2a80a1c46a9d972c467d3dcee98ccb605bb5',
  'vgg16_bn.json': '2d5d65a01071c48db29efd01b8f5b67e1e00f8c009af6ac3ff9b0e1c326b235e',
  'vgg19.json': '9f7fed3e80119588eab2395fa4f396fc99f276c3bd340570ac6f13806c52e9ae',
  'vgg19_bn.json': 'aa44018fabb5fd2d2362af99c31f109e0a4271d646db41beff628c967f00db15',
  'vgg11.json f16': '07ebffacb753d20b40d5abd9b376118b47774147d52407951307aababcbbacc3',
  'vgg11.json int8': '402b71cd7753db164555b5041fed07c0dfabb064e778a848408d7f5686536bda',
  'fashion-mnist f32': 'b102b3d5b8c6e5cfb1e285bef0a303b938b597b2d9b81602c146da9ea703709c',
  'fashion-mnist f16': '56d8744f31f000cd266d4a3b7f3163e1e413eef1ac04734c7d6221e24273d239',
  'fashion-mnist int8': 'b7ff9d6d4688fc4b01d7f607db27c54ad12cea607a9a5304a46d9a7027acc02d',
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
