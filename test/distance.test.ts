/**
 * Perceptual distance (LPIPS's unlearned variant) from a VGG-16 compiled with the five LPIPS taps,
 * against the same computation in PyTorch on torchvision's create_feature_extractor outputs
 * (tools/torch_features.py --pairs): near pairs (an image and a noisy copy) and far pairs, within
 * 1e-4 relative, on 2 threads. Then `vggc distance` and `vggc embed` as a user runs them on PNGs.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileModel } from '../compiler/pipeline.js';
import { LPIPS_VGG16_TAPS, perceptualDistance, perceptualDistances } from '../runtime/distance.js';
import { imageToTensor } from '../runtime/images/node.js';
import { loadModel } from '../runtime/index.js';
import { readNpy } from '../runtime/npy.js';
import { ROOT, tempDir, TOLERANCE } from './helpers.js';

const work = tempDir('vggc-distance-');
const CLI = join(ROOT, 'dist/compiler/cli.js');
/** torchvision's module names of LPIPS's VGG-16 slices' ends, in the order of LPIPS_VGG16_TAPS. */
const TORCH_NODES = ['features.3', 'features.8', 'features.15', 'features.22', 'features.29'];
const PAIRS = 4;
const SIZE = [64, 64] as const;
const modelDir = join(work, 'vgg16-lpips');

function vggc(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8' });
}

beforeAll(async () => {
  const r = spawnSync('/usr/bin/python3', [join(ROOT, 'tools/torch_features.py'), '--arch', 'vgg16', '--out', work, '--nodes', TORCH_NODES.join(','), '--batch', String(2 * PAIRS), '--size', String(SIZE[0]), String(SIZE[1]), '--pairs', '--seed', '3'], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  await compileModel({ configPath: join(work, 'model.pth'), outDir: modelDir, inputSize: SIZE, outputs: [...LPIPS_VGG16_TAPS] });
});

describe('perceptual distance against PyTorch', () => {
  it('each pair within 1e-4 of LPIPS-unlearned computed from create_feature_extractor', async () => {
    const want = JSON.parse(readFileSync(join(work, 'distances.json'), 'utf8')) as number[];
    expect(want).toHaveLength(PAIRS);
    const x = readNpy(join(work, 'input.npy'));
    const per = 3 * SIZE[0] * SIZE[1];
    const model = await loadModel(modelDir, { threads: 2 });
    try {
      const a = await model.inferAll(x.data.subarray(0, PAIRS * per), PAIRS);
      const b = await model.inferAll(x.data.subarray(PAIRS * per), PAIRS);
      const got = perceptualDistances(a, b, LPIPS_VGG16_TAPS);
      const worst = Math.max(...want.map((d, i) => Math.abs(got[i] - d) / d));
      console.log(`LPIPS-unlearned (random-weight VGG-16, 64×64): vggc ${Array.from(got, (d) => d.toFixed(5)).join(', ')}; PyTorch ${want.map((d) => d.toFixed(5)).join(', ')}; max relative difference ${worst.toExponential(2)}`);
      for (let i = 0; i < PAIRS; i++) expect(Math.abs(got[i] - want[i]) / want[i], `pair ${i}`).toBeLessThanOrEqual(TOLERANCE);
      // The noisy copies are nearer than the unrelated images: the pairs are not all alike.
      expect(Math.max(want[0], want[1])).toBeLessThan(Math.min(want[2], want[3]));
      // One image of a batch, by itself: the single-image form agrees.
      const one = (r: typeof a, i: number) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, { shape: [1, ...v.shape.slice(1)], data: v.data.subarray((i * v.data.length) / PAIRS, ((i + 1) * v.data.length) / PAIRS) }]));
      expect(perceptualDistance(one(a, 2), one(b, 2), LPIPS_VGG16_TAPS)).toBeCloseTo(got[2], 12);
    } finally {
      model.dispose();
    }
  });
});

describe('vggc distance and vggc embed on image files', () => {
  const pngs: string[] = [];
  beforeAll(async () => {
    for (const [i, seed] of [11, 12].entries()) {
      let s = seed;
      const pixels = Buffer.from(Array.from({ length: 80 * 72 * 3 }, () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 24)));
      const file = join(work, `image-${i}.png`);
      await sharp(pixels, { raw: { width: 80, height: 72, channels: 3 } }).png().toFile(file);
      pngs.push(file);
    }
  });

  it('distance: the CLI prints what perceptualDistance gives for the preprocessed images; an image is at 0 from itself', async () => {
    const r = vggc('distance', modelDir, pngs[0], pngs[1], '--json');
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { distance: number; taps: string[] };
    expect(out.taps).toEqual([...LPIPS_VGG16_TAPS]);
    const model = await loadModel(modelDir, { threads: 1 });
    try {
      const pre = model.manifest.preprocessing;
      const [a, b] = await Promise.all(pngs.map(async (f) => model.inferAll(await imageToTensor(f, pre, SIZE), 1)));
      expect(out.distance).toBeCloseTo(perceptualDistance(a, b, LPIPS_VGG16_TAPS), 10);
      expect(out.distance).toBeGreaterThan(0);
    } finally {
      model.dispose();
    }
    const same = vggc('distance', modelDir, pngs[0], pngs[0]);
    expect(same.status, same.stderr).toBe(0);
    expect(Number(same.stdout.trim())).toBe(0);
    const two = vggc('distance', modelDir, pngs[0], pngs[1], '--taps', 'relu1_2,relu2_2');
    expect(Number(two.stdout.trim())).toBeLessThan(out.distance);
  });

  it('distance refuses a tap the model does not output, in one line', () => {
    const r = vggc('distance', modelDir, pngs[0], pngs[1], '--taps', 'relu4_1');
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe(`error: ${modelDir}: "relu4_1" is not one of the model's map outputs (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3)`);
  });

  it('embed: --layer picks an output, --npy writes N×F, --json prints rows; a model without vectors says what to do', () => {
    const npy = join(work, 'emb.npy');
    const r = vggc('embed', modelDir, ...pngs, '--layer', 'relu5_3', '--npy', npy, '--json');
    expect(r.status, r.stderr).toBe(0);
    const rows = JSON.parse(r.stdout) as { file: string; layer: string; embedding: number[] }[];
    expect(rows.map((x) => [x.file, x.layer, x.embedding.length])).toEqual(pngs.map((f) => [f, 'relu5_3', 512 * 4 * 4]));
    const saved = readNpy(npy);
    expect(saved.shape).toEqual([2, 512 * 4 * 4]);
    expect(Array.from(saved.data.subarray(512 * 4 * 4))).toEqual(rows[1].embedding.map(Math.fround));
    const none = vggc('embed', modelDir, pngs[0]);
    expect(none.status).toBe(1);
    expect(none.stderr.trim()).toBe(`error: ${modelDir}: the model has no vector output to embed with (its outputs: ${LPIPS_VGG16_TAPS.join(', ')}); name one with --layer, or compile with --outputs fc7`);
  });
});
