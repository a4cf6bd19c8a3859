/**
 * The similar-image search example (examples/fashion-mnist/similar.mjs) against PyTorch
 * (tools/fashion_mnist_similar.py): the shipped model's fc6 embeddings of the 10,000 test images
 * agree within 1e-4·max|y|, and the leave-one-out precision@5 that each side computes from its own
 * embeddings (the example in JavaScript, PyTorch with topk) is the same figure within 0.1 point (a
 * near-tie may fall either way). The query mode finds a sample PNG's own test image first.
 * In CI the data set is required (.ci/run installs it); elsewhere its absence is reported as a skip.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readNpy } from '../runtime/npy.js';
import { ROOT, tempDir, TOLERANCE } from './helpers.js';

const DATA = '/usr/share/datasets/fashion-mnist';
const haveData = existsSync(join(DATA, 't10k-images-idx3-ubyte.gz'));
if (process.env.CI && !haveData) throw new Error(`CI must have the Fashion-MNIST test set at ${DATA} (apt-get install dataset-fashion-mnist)`);
const work = tempDir('vggc-similar-');
const EXAMPLE = join(ROOT, 'examples/fashion-mnist/similar.mjs');

interface Figure {
  readonly layer: string;
  readonly features: number;
  readonly images: number;
  readonly k: number;
  readonly hits: number;
  readonly total: number;
  readonly precision: number;
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT });
  expect(r.status, `${cmd} ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
}

describe.skipIf(!haveData)('similar-image search on Fashion-MNIST', () => {
  it('vggc and PyTorch: the same fc6 embeddings, the same leave-one-out precision@5', () => {
    const torch = JSON.parse(run('/usr/bin/python3', [join(ROOT, 'tools/fashion_mnist_similar.py'), '--npy', join(work, 'torch.npy')])) as Figure;
    const vggc = JSON.parse(run(process.execPath, [EXAMPLE, '--evaluate', '--json', '--npy', join(work, 'vggc.npy')]).trim().split('\n').at(-1)!) as Figure & { embedMs: number; searchMs: number };
    console.log(`precision@5 of fc6: vggc ${(100 * vggc.precision).toFixed(2)}% (${vggc.hits}/${vggc.total}), PyTorch ${(100 * torch.precision).toFixed(2)}% (${torch.hits}/${torch.total}); vggc embedded 10,000 images in ${(vggc.embedMs / 1000).toFixed(1)} s`);

    const a = readNpy(join(work, 'vggc.npy'));
    const b = readNpy(join(work, 'torch.npy'));
    expect(a.shape).toEqual([10000, 128]);
    expect(b.shape).toEqual(a.shape);
    let diff = 0;
    let max = 0;
    for (let i = 0; i < b.data.length; i++) {
      diff = Math.max(diff, Math.abs(a.data[i] - b.data[i]));
      max = Math.max(max, Math.abs(b.data[i]));
    }
    expect(max).toBeGreaterThan(0);
    expect(diff / max).toBeLessThanOrEqual(TOLERANCE);

    expect({ ...vggc, embedMs: 0, searchMs: 0 }).toMatchObject({ layer: 'fc6', features: 128, images: 10000, k: 5, total: 50000 });
    expect(torch).toMatchObject({ layer: 'fc6', features: 128, images: 10000, k: 5, total: 50000 });
    expect(Math.abs(vggc.hits - torch.hits)).toBeLessThanOrEqual(50);
    // Far above chance (10 %): the embedding groups the classes.
    expect(vggc.precision).toBeGreaterThan(0.85);
  });

  it('a sample PNG finds its own test image first, with cosine 1', () => {
    const samples = JSON.parse(readFileSync(join(ROOT, 'examples/fashion-mnist/samples/labels.json'), 'utf8')) as { file: string; label: string; testIndex: number }[];
    const s = samples[7];
    const out = run(process.execPath, [EXAMPLE, join(ROOT, 'examples/fashion-mnist/samples', s.file)]);
    const rows = out.split('\n').filter((l) => /^\s+\d+\s+\d+\s+/.test(l));
    expect(rows).toHaveLength(5);
    const [rank, index, ...rest] = rows[0].trim().split(/\s+/);
    expect([rank, Number(index), rest.at(-1)]).toEqual(['1', s.testIndex, '1.0000']);
    expect(rows[0]).toContain(s.label);
  });
});
