/**
 * Threads in Chromium and Firefox: VGG-11 on 2 threads (leader + 1 helper Web Worker) gives the same
 * bits as on 1. The leader runs only its half of each layer's work items, so equal logits show that
 * the helper ran the other half. How much faster 2 threads are is the benchmark's business
 * (bench/browser.mjs), never a unit test's: this machine is shared and its timings are noise.
 */
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { BROWSERS, browserIt, browserMissing, ensureCompiled, launch, type Browser } from './browser-env.js';

describe.each(BROWSERS)('threads in %s', (kind) => {
  let browser: Browser;
  beforeAll(async () => {
    if (browserMissing[kind]) return;
    await ensureCompiled('vgg11');
    browser = await launch(kind);
  });
  afterAll(async () => browser?.close());

  browserIt(kind, 'VGG-11: 2 threads give the bits of 1 thread, for 2 images in a row', async () => {
    const { page } = await browser.open('test/browser/page.html');
    await page.waitForFunction(() => (window as any).vggc);
    const r = await page.evaluate(async () => {
      const { loadModel } = (window as any).vggc;
      const m1 = await loadModel('/build/vgg11/', { threads: 1, cache: false });
      const m2 = await loadModel('/build/vgg11/', { threads: 2, cache: false });
      const images = [0, 1].map((k) => new Float32Array(3 * 224 * 224).map((_, i) => Math.sin(i * (k + 1))));
      const bits = (y: Float32Array) => Array.from(new Uint32Array(y.buffer, y.byteOffset, y.length));
      const out: { one: number[][]; two: number[][] } = { one: [], two: [] };
      for (const x of images) {
        out.one.push(bits(await m1.infer(x)));
        out.two.push(bits(await m2.infer(x)));
      }
      const threads = [m1.threads, m2.threads];
      m1.dispose();
      m2.dispose();
      return { ...out, threads, isolated: crossOriginIsolated };
    });
    expect(r.isolated).toBe(true);
    expect(r.threads).toEqual([1, 2]);
    expect(r.one[0]).toHaveLength(1000);
    expect(r.one[0]).not.toEqual(r.one[1]); // two different images, so a stale arena could not pass
    expect(r.two).toEqual(r.one);
    await page.close();
  });
});
