/**
 * Weight shards in Chromium and Firefox (issue 15), on the small-rect golden compiled with 4 KiB
 * shards (23 of them) into build/test-shards/, through the page's real loader:
 *   - progress is monotonic and ends at the payload; the logits match PyTorch (the golden);
 *   - a second load in the same profile, with every weights request failed by the browser's own
 *     request interception (playwright's route, puppeteer's request interception), comes from the
 *     Cache API with identical logits, and the server sees no weights request;
 *   - clearCache() removes the entries, after which the blocked load fails in one line, after retries;
 *   - a shard corrupted on the server fails naming it, nothing of it is cached, and once restored
 *     the same profile loads;
 *   - a recompiled model (one bias changed) fetches only the shards whose hash changed;
 *   - a full storage quota (CDP in Chromium, a profile limit in Firefox) loads from the network,
 *     stores what fits, and the next load fetches the rest;
 *   - a damaged Cache API entry is refetched; a body cut off half-way is retried; verify: 'sha256'
 *     checks SHA-256 and names it;
 *   - a 503 is retried; a throttled connection (CDP in Chromium, the server in Firefox) reports
 *     progress as bytes arrive; an AbortSignal stops the load.
 */
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { compileModel } from '../../compiler/pipeline.js';
import { readNpy } from '../../runtime/npy.js';
import { expectParity } from '../helpers.js';
import { BROWSERS, browserIt, browserMissing, launch, ROOT, type Browser, type ServerOptions, type TestPage } from './browser-env.js';

const FOLDER = '/build/test-shards/';
const DIR = join(ROOT, 'build/test-shards');
const GOLDEN = join(ROOT, 'test/golden/small-rect');
const input = readNpy(join(GOLDEN, 'input.npy'));
const reference = readNpy(join(GOLDEN, 'logits.npy'));
const WEIGHTS = /\/build\/test-shards\/weights-\d+\.bin/;

interface Progress {
  loadedBytes: number;
  totalBytes: number;
  cachedBytes: number;
}
interface PageLoad {
  error?: string;
  events: Progress[];
  logits?: number[];
}

interface ShardEntry {
  file: string;
  bytes: number;
  sha256: string;
}
let manifest: { weights: { payloadBytes: number; shards: ShardEntry[] } };
beforeAll(async () => {
  await compileModel({ configPath: join(GOLDEN, 'config.json'), weightsPath: join(GOLDEN, 'weights.safetensors'), outDir: DIR, shardBytes: 4096 });
  manifest = JSON.parse(readFileSync(join(DIR, 'model.json'), 'utf8'));
});
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

/** small-rect's weights with 1 added to the first class's output bias: a recompile that changes one tensor. */
function changedWeights(): string {
  const bytes = readFileSync(join(GOLDEN, 'weights.safetensors'));
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  const [start] = header['classifier.6.bias'].data_offsets as [number, number];
  const at = 8 + headerLength + start;
  bytes.writeFloatLE(bytes.readFloatLE(at) + 1, at);
  const path = join(ROOT, 'build/test-shards-changed.safetensors');
  writeFileSync(path, bytes);
  return path;
}

/** Loads the test model in the page (threads: 1) with `options`, infers the golden input; never throws. */
async function loadInPage(page: TestPage, options: Record<string, unknown> = {}, abortAfterFirstEvent = false): Promise<PageLoad> {
  await page.waitForFunction(() => (window as any).vggc);
  return page.evaluate(
    async ({ folder, options, data, abortAfterFirstEvent }: { folder: string; options: Record<string, unknown>; data: number[]; abortAfterFirstEvent: boolean }) => {
      const { loadModel } = (window as any).vggc;
      const events: Progress[] = [];
      const controller = new AbortController();
      try {
        const model = await loadModel(folder, {
          threads: 1,
          ...options,
          signal: controller.signal,
          onProgress: (p: Progress) => {
            events.push({ ...p });
            if (abortAfterFirstEvent) controller.abort();
          },
        });
        const logits: Float32Array = await model.infer(new Float32Array(data), 2);
        model.dispose();
        return { events, logits: Array.from(logits) };
      } catch (e) {
        return { events, error: `${(e as Error).name}: ${(e as Error).message}` };
      }
    },
    { folder: FOLDER, options, data: Array.from(input.data), abortAfterFirstEvent },
  );
}

/** The cached entries (URLs) of the test folder in this profile. */
const cachedUrls = (page: TestPage): Promise<string[]> =>
  page.evaluate(async () => {
    const cache = await caches.open('vggc-weights-v1');
    return (await cache.keys()).map((r) => r.url).filter((u) => u.includes('/build/test-shards/'));
  });

/**
 * The cached entries once there are `n` of them: loadModel resolves as soon as the weights are in
 * memory and stores them in the background. Waits up to 20 s, then returns what is there.
 */
const cachedWhenStored = (page: TestPage, n: number): Promise<string[]> =>
  page.evaluate(async (n: number) => {
    let urls: string[] = [];
    for (let i = 0; i < 400; i++) {
      const cache = await caches.open('vggc-weights-v1');
      urls = (await cache.keys()).map((r) => r.url).filter((u) => u.includes('/build/test-shards/'));
      if (urls.length === n) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    return urls;
  }, n);

/** The cached entries once their number has not changed for 2 s (stores that fail never reach a count to wait for). */
const cachedWhenSettled = (page: TestPage): Promise<string[]> =>
  page.evaluate(async () => {
    let urls: string[] = [];
    for (let i = 0, still = 0; i < 400 && still < 40; i++) {
      const cache = await caches.open('vggc-weights-v1');
      const now = (await cache.keys()).map((r) => r.url).filter((u) => u.includes('/build/test-shards/'));
      still = now.length === urls.length ? still + 1 : 0;
      urls = now;
      await new Promise((r) => setTimeout(r, 50));
    }
    return urls;
  });

/** A new page with the vggc runtime loaded and no cached shards of the test folder, and its console. */
async function pageWithoutCache(browser: Browser): Promise<{ page: TestPage; console: string[] }> {
  const opened = await browser.open('test/browser/page.html');
  await opened.page.waitForFunction(() => (window as any).vggc);
  await opened.page.evaluate(async (folder: string) => (window as any).vggc.clearCache(folder), FOLDER);
  return opened;
}

function expectMonotonicToTotal(events: Progress[]): void {
  const total = manifest.weights.payloadBytes;
  expect(events.length).toBeGreaterThan(0);
  expect(events.every((e, i) => e.totalBytes === total && (i === 0 || e.loadedBytes >= events[i - 1].loadedBytes) && e.cachedBytes <= e.loadedBytes)).toBe(true);
  expect(events.at(-1)!.loadedBytes).toBe(total);
}

describe.each(BROWSERS)('weight shards in %s', (kind) => {
  let browser: Browser;
  /** Requests the server saw, by path; paths whose next request gets a 503. */
  const requests = new Map<string, number>();
  const fail503 = new Set<string>();
  /** Paths whose next response stops half-way through the body (the connection is cut). */
  const cutOff = new Set<string>();
  const countRequests: NonNullable<ServerOptions['intercept']> = (pathname, _req, res) => {
    requests.set(pathname, (requests.get(pathname) ?? 0) + 1);
    if (cutOff.delete(pathname)) {
      const body = readFileSync(join(ROOT, pathname));
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length), 'Cache-Control': 'no-store' });
      res.write(body.subarray(0, body.length >> 1), () => res.destroy());
      return true;
    }
    if (!fail503.delete(pathname)) return false;
    res.writeHead(503, { 'Content-Type': 'text/plain', 'Cache-Control': 'no-store' });
    res.end('try again\n');
    return true;
  };
  beforeAll(async () => {
    if (browserMissing[kind]) return;
    browser = await launch(kind, { intercept: countRequests });
  });
  afterAll(async () => browser?.close());
  const weightRequests = (): number => [...requests].filter(([p]) => WEIGHTS.test(p)).reduce((n, [, c]) => n + c, 0);

  browserIt(kind, 'progress is monotonic to the total; a second load with every weights request blocked comes from the cache, identical; clearCache empties it', async () => {
    const first = await browser.open('test/browser/page.html');
    const a = await loadInPage(first.page);
    expect(a.error).toBeUndefined();
    expectMonotonicToTotal(a.events);
    expect(a.events.at(-1)!.cachedBytes).toBe(0);
    expectParity(Float32Array.from(a.logits!), reference.data, 10);
    expect((await cachedWhenStored(first.page, manifest.weights.shards.length)).length).toBe(manifest.weights.shards.length);
    await first.page.close();

    const second = await browser.open('test/browser/page.html');
    const blocked = await second.page.block(WEIGHTS);
    requests.clear();
    const b = await loadInPage(second.page);
    expect(b.error).toBeUndefined();
    expect(blocked).toEqual([]); // not even attempted
    expect(weightRequests()).toBe(0);
    expectMonotonicToTotal(b.events);
    expect(b.events.at(-1)!.cachedBytes).toBe(manifest.weights.payloadBytes);
    expect(b.logits).toEqual(a.logits);

    // Cleared, the blocked load has to go to the network, which interception refuses: retried, then one line.
    expect(await second.page.evaluate(async (folder: string) => (window as any).vggc.clearCache(folder), FOLDER)).toBe(manifest.weights.shards.length);
    expect(await cachedUrls(second.page)).toEqual([]);
    const c = await loadInPage(second.page);
    expect(c.error).toMatch(/^VggcError: http:\/\/127\.0\.0\.1:\d+\/build\/test-shards\/weights-\d+\.bin: cannot fetch \(.*\), 4 attempts$/);
    expect(blocked.length).toBeGreaterThanOrEqual(4);
    expect(second.console.filter((l) => l.startsWith('pageerror'))).toEqual([]);
    await second.page.close();
  });

  browserIt(kind, 'a shard corrupted on the server fails naming it and is not cached; restored, the same profile loads it', async () => {
    const { page } = await pageWithoutCache(browser);
    const file = join(DIR, 'weights-013.bin');
    const good = readFileSync(file);
    const bad = Buffer.from(good);
    bad.fill(0x7f, 2000, 2064);
    writeFileSync(file, bad);
    let failed: PageLoad;
    try {
      failed = await loadInPage(page);
    } finally {
      writeFileSync(file, good);
    }
    expect(failed.error).toMatch(/^VggcError: http:\/\/127\.0\.0\.1:\d+\/build\/test-shards\/weights-013\.bin: does not match the XXH64 that http:\/\/127\.0\.0\.1:\d+\/build\/test-shards\/model\.json records \(damaged, or from another compile\); nothing was loaded$/);
    expect((await cachedUrls(page)).filter((u) => u.includes('weights-013.bin'))).toEqual([]);
    requests.clear();
    const ok = await loadInPage(page);
    expect(ok.error).toBeUndefined();
    expectParity(Float32Array.from(ok.logits!), reference.data, 10);
    expect(requests.get('/build/test-shards/weights-013.bin')).toBe(1); // fetched again, not read from the cache
    expect((await cachedWhenStored(page, manifest.weights.shards.length)).length).toBe(manifest.weights.shards.length);
    await page.close();
  });

  browserIt(kind, 'a full storage quota: the load still succeeds from the network, stores what fits, and the next load fetches the rest', async () => {
    // Chromium: a 32 KiB quota, room for some of the 23 shards of 4 KiB. Firefox (whose profile limit
    // has a floor of several MB): another cache's entries of 1 MiB until a store fails, so none fits.
    const small = kind === 'chromium' ? browser : await launch(kind, { storageLimitKiB: 1024, intercept: countRequests });
    try {
      const { page, console: lines } = await pageWithoutCache(small);
      if (kind === 'chromium') await page.limitStorage(32 << 10);
      else {
        const filled = await page.evaluate(async () => {
          const junk = await caches.open('junk');
          let n = 0;
          try {
            for (; n < 100; n++) await junk.put(`/junk/${n}`, new Response(new Uint8Array(1 << 20).fill(n & 255)));
          } catch {
            // full
          }
          return n;
        });
        expect(filled).toBeGreaterThan(4);
        expect(filled).toBeLessThan(100);
      }
      const a = await loadInPage(page);
      expect(a.error).toBeUndefined();
      expectParity(Float32Array.from(a.logits!), reference.data, 10);
      // The stores run after the load resolved: wait for them (all of them would be 23 entries).
      const stored = (await cachedWhenSettled(page)).length;
      expect(stored).toBeLessThan(manifest.weights.shards.length);
      if (kind === 'chromium') expect(stored).toBeGreaterThan(0); // what fits is stored
      requests.clear();
      const b = await loadInPage(page);
      expect(b.error).toBeUndefined();
      expect(b.logits).toEqual(a.logits);
      expect(b.events.at(-1)!.cachedBytes).toBeLessThan(manifest.weights.payloadBytes);
      expect(weightRequests()).toBeGreaterThanOrEqual(manifest.weights.shards.length - stored);
      // Never an error on the page; the quota warning shows in Chromium, whose workers' console reaches the page's (one per worker at most).
      expect(lines.filter((l) => l.startsWith('pageerror') || l.startsWith('error'))).toEqual([]);
      if (kind === 'chromium') expect(lines.filter((l) => /vggc: cannot store weights in the browser's cache \(storage quota full\)/.test(l)).length).toBeGreaterThan(0);
      await page.close();
    } finally {
      if (small !== browser) await small.close();
    }
  });

  browserIt(kind, 'a damaged cache entry is refetched; a body cut off half-way is retried; verify: "sha256" checks SHA-256', async () => {
    const { page } = await pageWithoutCache(browser);
    const first = await loadInPage(page);
    expect(first.error).toBeUndefined();
    expect((await cachedWhenStored(page, manifest.weights.shards.length)).length).toBe(manifest.weights.shards.length);
    // Overwrite one entry with other bytes of the right length, as a damaged profile would hold.
    const damaged = await page.evaluate(async () => {
      const cache = await caches.open('vggc-weights-v1');
      const key = (await cache.keys()).map((r) => r.url).find((u) => u.includes('/build/test-shards/weights-007.bin'))!;
      const bytes = new Uint8Array(await (await cache.match(key))!.arrayBuffer());
      bytes[10] ^= 0xff;
      await cache.put(key, new Response(bytes));
      return key;
    });
    expect(damaged).toMatch(/weights-007\.bin\?vggc-sha256=[0-9a-f]{64}$/);
    requests.clear();
    const again = await loadInPage(page);
    expect(again.error).toBeUndefined();
    expect(again.logits).toEqual(first.logits);
    expect([...requests.keys()].filter((p) => WEIGHTS.test(p))).toEqual(['/build/test-shards/weights-007.bin']);
    expect(again.events.at(-1)!.cachedBytes).toBe(manifest.weights.payloadBytes - manifest.weights.shards[7].bytes);

    // A response cut off half-way is retried from the start, and its hash with it.
    requests.clear();
    cutOff.add('/build/test-shards/weights-009.bin');
    const cut = await loadInPage(page, { cache: false });
    expect(cut.error).toBeUndefined();
    expect(requests.get('/build/test-shards/weights-009.bin')).toBe(2);
    expect(cut.logits).toEqual(first.logits);
    expectMonotonicToTotal(cut.events);

    // SHA-256: loads the same; a damaged shard on the server fails naming SHA-256.
    const sha = await loadInPage(page, { cache: false, verify: 'sha256' });
    expect(sha.error).toBeUndefined();
    expect(sha.logits).toEqual(first.logits);
    const file = join(DIR, 'weights-013.bin');
    const good = readFileSync(file);
    const bad = Buffer.from(good);
    bad[5] ^= 0x01;
    writeFileSync(file, bad);
    let failed: PageLoad;
    try {
      failed = await loadInPage(page, { cache: false, verify: 'sha256' });
    } finally {
      writeFileSync(file, good);
    }
    expect(failed.error).toMatch(/^VggcError: http:\/\/127\.0\.0\.1:\d+\/build\/test-shards\/weights-013\.bin: does not match the SHA-256 that .*model\.json records \(damaged, or from another compile\); nothing was loaded$/);
    await page.close();
  });

  browserIt(kind, 'a 503 is retried; cache: false fetches every shard and stores nothing new', async () => {
    const { page } = await pageWithoutCache(browser);
    requests.clear();
    fail503.add('/build/test-shards/weights-005.bin');
    const r = await loadInPage(page, { cache: false });
    expect(r.error).toBeUndefined();
    expect(requests.get('/build/test-shards/weights-005.bin')).toBe(2);
    expect(weightRequests()).toBe(manifest.weights.shards.length + 1);
    expect(await cachedUrls(page)).toEqual([]);
    expectParity(Float32Array.from(r.logits!), reference.data, 10);
    await page.close();
  });

  browserIt(kind, 'a throttled connection reports progress as the bytes arrive; an AbortSignal stops the load', async () => {
    // ~30 KB/s: the 94 KB payload takes a few seconds.
    const slow = kind === 'chromium' ? browser : await launch(kind, { throttle: 30_000 });
    try {
      const { page } = await slow.open('test/browser/page.html');
      if (kind === 'chromium') await page.throttle(30_000);
      const r = await loadInPage(page, { cache: false });
      expect(r.error).toBeUndefined();
      expectMonotonicToTotal(r.events);
      // At least one event per shard as it arrives (the workers report every 256 KiB within a shard,
      // more than these 4 KiB shards hold).
      expect(r.events.length).toBeGreaterThanOrEqual(manifest.weights.shards.length);
      const aborted = await loadInPage(page, { cache: false }, true);
      expect(aborted.error).toMatch(/^AbortError: /);
      await page.close();
    } finally {
      if (slow !== browser) await slow.close();
    }
  });

  browserIt(kind, 'a recompiled model (one bias changed) fetches only the shards whose hash changed, and drops their old entries', async () => {
    const { page } = await pageWithoutCache(browser);
    const before = await loadInPage(page);
    expect(before.error).toBeUndefined();
    await cachedWhenStored(page, manifest.weights.shards.length);
    const original = join(ROOT, 'build/test-shards-original');
    cpSync(DIR, original, { recursive: true });
    try {
      await compileModel({ configPath: join(GOLDEN, 'config.json'), weightsPath: changedWeights(), outDir: DIR, shardBytes: 4096 });
      const next: typeof manifest = JSON.parse(readFileSync(join(DIR, 'model.json'), 'utf8'));
      const old = new Map(manifest.weights.shards.map((s) => [s.file, s.sha256]));
      const changed = next.weights.shards.filter((s) => old.get(s.file) !== s.sha256).map((s) => `/build/test-shards/${s.file}`);
      expect(changed.length).toBeGreaterThan(0);
      expect(changed.length).toBeLessThan(3);
      requests.clear();
      const after = await loadInPage(page);
      expect(after.error).toBeUndefined();
      expect([...requests.keys()].filter((p) => WEIGHTS.test(p)).sort()).toEqual(changed.sort());
      const unchangedBytes = next.weights.shards.filter((s) => old.get(s.file) === s.sha256).reduce((n, s) => n + s.bytes, 0);
      expect(after.events.at(-1)!.cachedBytes).toBe(unchangedBytes);
      // The new bias shows in the first class only (float32 addition of 1).
      for (let i = 0; i < 20; i++) {
        if (i % 10 === 0) expect(after.logits![i]).toBeCloseTo(before.logits![i] + 1, 5);
        else expect(after.logits![i]).toBe(before.logits![i]);
      }
      // The old entries of the changed shards are dropped once the new ones are stored.
      expect((await cachedWhenStored(page, manifest.weights.shards.length)).length).toBe(manifest.weights.shards.length);
    } finally {
      rmSync(DIR, { recursive: true, force: true });
      cpSync(original, DIR, { recursive: true });
      rmSync(original, { recursive: true, force: true });
      rmSync(join(ROOT, 'build/test-shards-changed.safetensors'), { force: true });
    }
    await page.close();
  });
});
