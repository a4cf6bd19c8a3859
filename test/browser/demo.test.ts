/**
 * The Fashion-MNIST demo page (examples/browser/index.html) in Chromium: the 50 shipped samples get
 * the same top-1 as `vggc predict` in Node; threads are used under cross-origin isolation; without it
 * the page falls back to 1 thread and says why; a screenshot is saved to test/browser/artifacts/.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { browserIt, browserMissing, ensureCompiled, launch, ROOT, type Browser } from './browser-env.js';

const reference = JSON.parse(readFileSync(join(ROOT, 'examples/fashion-mnist/samples-reference.json'), 'utf8')) as {
  samples: { file: string; predicted: number }[];
};

describe('the demo page in Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    if (browserMissing) return;
    await ensureCompiled('fashion-mnist');
    browser = await launch();
  });
  afterAll(async () => browser?.close());

  browserIt('classifies the 50 samples like Node, on 2 threads, and saves a screenshot', async () => {
    const { page, console } = await browser.open('examples/browser/index.html');
    const info = await page.evaluate(() => (window as any).vggcDemo.ready);
    expect(info.crossOriginIsolated).toBe(true);
    expect(info.threads).toBe(2);
    const rows: { file: string; predicted: number }[] = await page.evaluate(() => (window as any).vggcDemo.classifyAllSamples());
    expect(rows.map((r) => r.file)).toEqual(reference.samples.map((s) => s.file));
    expect(rows.map((r) => r.predicted)).toEqual(reference.samples.map((s) => s.predicted));
    await page.waitForSelector('body[data-classified]');
    expect(await page.textContent('#status')).toMatch(/2 threads/);
    expect(await page.textContent('#summary')).toMatch(/^44\/50 correct/);
    expect(console.filter((l) => /^(error|pageerror)/.test(l))).toEqual([]);
    const dir = join(ROOT, 'test/browser/artifacts');
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, 'demo-fashion-mnist.png'), fullPage: true });
    await page.close();
  });

  browserIt('falls back to 1 thread, and says why, when the page is not cross-origin isolated', async () => {
    const plain = await launch({ isolate: false });
    try {
      const { page, console } = await plain.open('examples/browser/index.html');
      const info = await page.evaluate(() => (window as any).vggcDemo.ready);
      expect(info.crossOriginIsolated).toBe(false);
      expect(info.threads).toBe(1);
      expect(console.join('\n')).toMatch(/running fashion-mnist-vgg on 1 thread instead of 2: this page is not cross-origin isolated/);
      const r = await page.evaluate(() => (window as any).vggcDemo.classify('../fashion-mnist/samples/000-ankle-boot.png'));
      expect(r.top[0].index).toBe(reference.samples[0].predicted);
    } finally {
      await plain.close();
    }
  });
});
