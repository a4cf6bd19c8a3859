/**
 * Threads really help in Chromium and in Firefox: VGG-11 on 2 threads (leader + 1 helper worker) is faster than on 1.
 * Timing test: both models are loaded in one page and their runs are interleaved, so background load
 * hits both alike; only median(2 threads) < median(1 thread) is asserted, in one of up to 3 rounds. Needs two idle
 * cores: with other CPU-heavy processes on a 2-core machine, 2 threads cannot win.
 */
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { BROWSERS, browserIt, browserMissing, ensureCompiled, launch, median, type Browser } from './browser-env.js';

describe.each(BROWSERS)('threads in %s', (kind) => {
  let browser: Browser;
  beforeAll(async () => {
    if (browserMissing[kind]) return;
    await ensureCompiled('vgg11');
    browser = await launch(kind);
  });
  afterAll(async () => browser?.close());

  browserIt(kind, 'VGG-11: 2 threads are faster than 1', async () => {
    const { page } = await browser.open('test/browser/page.html');
    await page.waitForFunction(() => (window as any).vggc);
    const measure = (): Promise<{ t1: number[]; t2: number[]; threads: number[] }> =>
      page.evaluate(async () => {
        const { loadModel } = (window as any).vggc;
        const w = window as any;
        // cache: false: no background Cache API stores (runtime/load/shard-worker.ts) compete with the timed runs.
        w.m1 ??= await loadModel('/build/vgg11/', { threads: 1, cache: false });
        w.m2 ??= await loadModel('/build/vgg11/', { threads: 2, cache: false });
        const x = new Float32Array(3 * 224 * 224).map((_, i) => Math.sin(i));
        const time = async (m: any) => {
          const t = performance.now();
          await m.infer(x);
          return performance.now() - t;
        };
        for (let i = 0; i < 2; i++) await Promise.all([await time(w.m1), await time(w.m2)]); // warm-up (tier-up)
        const t1: number[] = [];
        const t2: number[] = [];
        for (let i = 0; i < 7; i++) {
          t1.push(await time(w.m1));
          t2.push(await time(w.m2));
        }
        return { t1, t2, threads: [w.m1.threads, w.m2.threads] };
      });
    let r = await measure();
    expect(r.threads).toEqual([1, 2]);
    // Generous: up to 3 rounds of 7 interleaved runs; one round with 2T < 1T passes.
    for (let round = 1; round < 3 && !(median(r.t2) < median(r.t1)); round++) r = await measure();
    console.log(`VGG-11 in ${browser.version}: median 1 thread ${median(r.t1).toFixed(1)} ms, 2 threads ${median(r.t2).toFixed(1)} ms`);
    expect(median(r.t2)).toBeLessThan(median(r.t1));
    await page.close();
  });
});
