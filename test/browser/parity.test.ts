/**
 * The deterministic build gives bit-identical logits in Chromium, in Firefox and in Node: SHA-256 of
 * the raw float32 bytes, crypto.subtle in the page vs node:crypto here. The page loads with default
 * options but the thread count, so the default build is what is compared. Fashion-MNIST on its 50 samples
 * (1 and 2 threads; also with int8 weights, whose Winograd filters the runtime transforms at load)
 * and VGG-11 (2 threads) on a fixed input.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { loadModel } from '../../runtime/load/node.js';
import { readNpy } from '../../runtime/npy.js';
import { BROWSERS, browserIt, browserMissing, ensureCompiled, launch, ROOT, type Browser } from './browser-env.js';

const sha256 = (x: Float32Array): string => createHash('sha256').update(Buffer.from(x.buffer, x.byteOffset, x.byteLength)).digest('hex');

async function nodeLogits(dir: string, input: Float32Array, n: number): Promise<Float32Array> {
  const model = await loadModel(dir, { threads: 1 });
  try {
    return await model.infer(input, n);
  } finally {
    model.dispose();
  }
}

/** Runs the model in the page; returns the SHA-256 of the logits, their first values and the thread count. */
async function browserLogits(browser: Browser, folder: string, input: Float32Array, n: number, threads: number) {
  const { page, console } = await browser.open('test/browser/page.html');
  await page.waitForFunction(() => (window as any).vggc);
  const result = await page.evaluate(
    async ({ folder, data, n, threads }: { folder: string; data: number[]; n: number; threads: number }) => {
      const { loadModel } = (window as any).vggc;
      const model = await loadModel(folder, { threads });
      const logits: Float32Array = await model.infer(new Float32Array(data), n);
      const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', logits as Float32Array<ArrayBuffer>));
      model.dispose();
      return { sha: Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join(''), first: Array.from(logits.subarray(0, 4)), threads: model.threads, build: model.build };
    },
    { folder, data: Array.from(input), n, threads },
  );
  await page.close();
  return { ...result, console };
}

describe.each(BROWSERS)('deterministic build: %s and Node agree bit for bit', (kind) => {
  let browser: Browser;
  beforeAll(async () => {
    if (browserMissing[kind]) return;
    await ensureCompiled('fashion-mnist');
    await ensureCompiled('fashion-mnist-int8');
    await ensureCompiled('vgg11');
    browser = await launch(kind);
  });
  afterAll(async () => browser?.close());

  browserIt(kind, 'Fashion-MNIST, 50 samples, 1 and 2 threads', async () => {
    const { data, shape } = readNpy(join(ROOT, 'examples/fashion-mnist/samples-input.npy'));
    const n = shape[0];
    const expected = await nodeLogits(join(ROOT, 'build/fashion-mnist'), data, n);
    for (const threads of [1, 2]) {
      const got = await browserLogits(browser, '/build/fashion-mnist/', data, n, threads);
      expect(got.threads).toBe(threads);
      expect(got.build).toBe('deterministic');
      expect(got.first).toEqual(Array.from(expected.subarray(0, 4)));
      expect(got.sha).toBe(sha256(expected));
    }
  });

  browserIt(kind, 'Fashion-MNIST with int8 weights, 50 samples, 2 threads (load-time filter transforms)', async () => {
    const { data, shape } = readNpy(join(ROOT, 'examples/fashion-mnist/samples-input.npy'));
    const dir = join(ROOT, 'build/fashion-mnist-int8');
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    expect(manifest.weights.dtype).toBe('int8');
    expect(manifest.prepare.length).toBeGreaterThan(0); // Winograd layers whose filters the page transforms
    const expected = await nodeLogits(dir, data, shape[0]);
    const f32 = await nodeLogits(join(ROOT, 'build/fashion-mnist'), data, shape[0]);
    expect(sha256(expected)).not.toBe(sha256(f32)); // really the int8 model
    const got = await browserLogits(browser, '/build/fashion-mnist-int8/', data, shape[0], 2);
    expect(got.threads).toBe(2);
    expect(got.sha).toBe(sha256(expected));
  });

  browserIt(kind, 'VGG-11 (seeded weights), 2 threads', async () => {
    const input = new Float32Array(3 * 224 * 224);
    for (let i = 0; i < input.length; i++) input[i] = Math.fround(Math.sin(i * 0.37));
    const expected = await nodeLogits(join(ROOT, 'build/vgg11'), input, 1);
    const got = await browserLogits(browser, '/build/vgg11/', input, 1, 2);
    expect(got.threads).toBe(2);
    expect(got.sha).toBe(sha256(expected));
  });
});
