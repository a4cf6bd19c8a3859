/**
 * The Fashion-MNIST demo page (examples/browser/index.html) in Chromium and in Firefox: the 50
 * shipped samples get the same top-1 as `vggc predict` in Node, with no console errors; threads are
 * used under cross-origin isolation; without it the page falls back to 1 thread and says why; a
 * screenshot is saved to test/browser/artifacts/.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { BROWSERS, browserIt, browserMissing, ensureCompiled, launch, ROOT, type Browser } from './browser-env.js';

const reference = JSON.parse(readFileSync(join(ROOT, 'examples/fashion-mnist/samples-reference.json'), 'utf8')) as {
  samples: { file: string; predicted: number }[];
};

describe.each(BROWSERS)('the demo page in %s', (kind) => {
  let browser: Browser;
  beforeAll(async () => {
    if (browserMissing[kind]) return;
    await ensureCompiled('fashion-mnist');
    browser = await launch(kind);
  });
  afterAll(async () => browser?.close());

  browserIt(kind, 'classifies the 50 samples like Node, on 2 threads, with the deterministic build and no console errors, and saves a screenshot', async () => {
    const { page, console } = await browser.open('examples/browser/index.html');
    const info = await page.evaluate(() => (window as any).vggcDemo.ready);
    expect(info.crossOriginIsolated).toBe(true);
    expect(info.threads).toBe(2);
    expect(info.build).toBe('deterministic');
    const rows: { file: string; predicted: number }[] = await page.evaluate(() => (window as any).vggcDemo.classifyAllSamples());
    expect(rows.map((r) => r.file)).toEqual(reference.samples.map((s) => s.file));
    expect(rows.map((r) => r.predicted)).toEqual(reference.samples.map((s) => s.predicted));
    await page.waitForSelector('body[data-classified]');
    expect(await page.textContent('#status')).toMatch(/2 threads, deterministic build/);
    expect(await page.textContent('#summary')).toMatch(/^44\/50 correct/);
    expect(console.filter((l) => /^(error|pageerror)/.test(l))).toEqual([]);
    // The weights' bytes and where they came from. This profile's first visit: the network (a rerun
    // of the test in the same profile cannot happen: each launch has a fresh one).
    expect(await page.textContent('#bytes')).toMatch(/^\d+\.\d \/ \d+\.\d MB, from the network$/);
    const dir = join(ROOT, 'test/browser/artifacts');
    mkdirSync(dir, { recursive: true });
    await page.screenshot(join(dir, `demo-fashion-mnist-${kind}.png`));
    // The shards are stored in the background after the load: wait until they are, before leaving.
    await page.evaluate(async () => {
      const shards = (await (await fetch('../../build/fashion-mnist/model.json')).json()).weights.shards.length;
      for (let i = 0; i < 400; i++) {
        const keys = await (await caches.open('vggc-weights-v1')).keys();
        if (keys.length >= shards) return;
        await new Promise((r) => setTimeout(r, 50));
      }
    });
    await page.close();

    // Reloaded: the weights come from the cache; the button clears it, and the next visit fetches again.
    const again = await browser.open('examples/browser/index.html');
    const second = await again.page.evaluate(() => (window as any).vggcDemo.ready);
    expect(second.progress.cachedBytes).toBe(second.progress.totalBytes);
    expect(await again.page.textContent('#bytes')).toMatch(/ MB, from the cache$/);
    await again.page.evaluate(() => (document.getElementById('clear-cache') as HTMLButtonElement).click());
    await again.page.waitForFunction(() => document.getElementById('cache-note')!.textContent !== '');
    expect(await again.page.textContent('#cache-note')).toMatch(/^removed [1-9]\d* cached shards?; a reload downloads them again$/);
    await again.page.close();
    const third = await browser.open('examples/browser/index.html');
    expect((await third.page.evaluate(() => (window as any).vggcDemo.ready)).progress.cachedBytes).toBe(0);
    await third.page.close();
  });

  browserIt(kind, 'falls back to 1 thread, and says why, when the page is not cross-origin isolated (from a server without range requests)', async () => {
    const plain = await launch(kind, { isolate: false, ranges: false });
    try {
      const { page, console } = await plain.open('examples/browser/index.html');
      const info = await page.evaluate(() => (window as any).vggcDemo.ready);
      expect(info.crossOriginIsolated).toBe(false);
      expect(info.threads).toBe(1);
      expect(console.join('\n')).toMatch(/running fashion-mnist-vgg on 1 thread instead of 2: this page is not cross-origin isolated/);
      const r = await page.evaluate(() => (window as any).vggcDemo.classify('../fashion-mnist/samples/000-ankle-boot.png'));
      expect(r.top[0].index).toBe(reference.samples[0].predicted);
      expect(console.filter((l) => /^(error|pageerror)/.test(l))).toEqual([]);
    } finally {
      await plain.close();
    }
  });
});
