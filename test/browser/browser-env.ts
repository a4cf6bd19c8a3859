/**
 * Shared set-up of the browser tests, for each browser they run in:
 *   - chromium: Debian's chromium driven by playwright-core (CDP), launched exactly with the flags
 *     docs/performance.md ("Browsers") lists;
 *   - firefox: Debian's firefox-esr driven by puppeteer-core over WebDriver BiDi.
 * tools/serve.mjs serves the repository root (cross-origin isolated unless asked not to be). Both
 * drivers are reached through one small page interface, so that every test runs in both browsers.
 *
 * When a browser or its driver is missing, its tests fail loudly in CI (process.env.CI) and are
 * skipped with a message elsewhere.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'vitest';
import { checkManifest } from '../../runtime/format/manifest-check.js';

export const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
export const CHROMIUM = process.env.VGGC_CHROMIUM ?? '/usr/lib/chromium/chromium';
export const FIREFOX = process.env.VGGC_FIREFOX ?? '/usr/lib/firefox-esr/firefox-esr';
export const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export const BROWSERS = ['chromium', 'firefox'] as const;
export type BrowserName = (typeof BROWSERS)[number];

/* eslint-disable @typescript-eslint/no-explicit-any */
async function optionalImport(name: string): Promise<any> {
  try {
    return await import(name);
  } catch {
    return null;
  }
}

// Import names in variables: the drivers are devDependencies, and a missing one must give a message, not a crash.
const playwright = await optionalImport(['playwright', 'core'].join('-'));
const puppeteer = await optionalImport(['puppeteer', 'core'].join('-'));

function whyMissing(kind: BrowserName): string | null {
  if (!existsSync(join(ROOT, 'dist/runtime/browser.js'))) return 'dist/runtime/browser.js is missing (run npm run build first)';
  if (kind === 'chromium') {
    if (!playwright) return 'playwright-core is not installed (npm ci)';
    if (!existsSync(CHROMIUM)) return `no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set VGGC_CHROMIUM)`;
  } else {
    if (!puppeteer) return 'puppeteer-core is not installed (npm ci)';
    if (!existsSync(FIREFOX)) return `no Firefox at ${FIREFOX} (apt-get install -y firefox-esr, or set VGGC_FIREFOX)`;
  }
  return null;
}

export const browserMissing: Record<BrowserName, string | null> = { chromium: whyMissing('chromium'), firefox: whyMissing('firefox') };
for (const kind of BROWSERS) if (browserMissing[kind] && !process.env.CI) console.warn(`${kind} tests skipped: ${browserMissing[kind]}`);

/**
 * `it` for a browser test: runs when the browser is there; in CI without it, runs and fails with
 * the reason; elsewhere it is skipped.
 */
export const browserIt = (kind: BrowserName, name: string, fn: () => Promise<void>, timeout?: number): void => {
  const missing = browserMissing[kind];
  if (!missing) it(name, fn, timeout);
  else if (process.env.CI) it(name, () => { throw new Error(`cannot run the ${kind} tests: ${missing}`); });
  else it.skip(`${name} (skipped: ${missing})`, fn);
};

/** What the tests do with a page, the same through playwright and puppeteer. */
export interface TestPage {
  /** Runs `fn(arg)` in the page and returns its (serialisable) result. */
  evaluate<A, R>(fn: (arg: A) => R | Promise<R>, arg?: A): Promise<R>;
  waitForFunction(fn: () => unknown, timeoutMs?: number): Promise<void>;
  waitForSelector(selector: string): Promise<void>;
  textContent(selector: string): Promise<string | null>;
  screenshot(path: string): Promise<void>;
  /**
   * From now on, the browser's own request interception fails every request whose URL matches
   * `pattern` before it leaves the browser; the returned list fills with their URLs.
   */
  block(pattern: RegExp): Promise<string[]>;
  /** Chromium only: CDP Network.emulateNetworkConditions at `bytesPerSecond` down, 20 ms latency. */
  throttle(bytesPerSecond: number): Promise<void>;
  /** Chromium only: CDP Storage.overrideQuotaForOrigin, the page origin's storage quota set to `bytes`. */
  limitStorage(bytes: number): Promise<void>;
  close(): Promise<void>;
}

export interface Browser {
  readonly kind: BrowserName;
  /** The browser's own version string. */
  readonly version: string;
  readonly url: string;
  /** Opens `path` (relative to the repository root) in a new page; collects its console. */
  open(path: string): Promise<{ page: TestPage; console: string[] }>;
  close(): Promise<void>;
}

/** Evaluations here load 642 MB models and time many inferences: far beyond the drivers' defaults. */
const LONG_MS = 600_000;

function wrapPage(kind: BrowserName, page: any): TestPage {
  return {
    evaluate: (fn, arg) => page.evaluate(fn, arg),
    // playwright: (fn, arg, options); puppeteer: (fn, options, ...args).
    waitForFunction: async (fn, timeoutMs = 60_000) => void (kind === 'chromium' ? await page.waitForFunction(fn, undefined, { timeout: timeoutMs }) : await page.waitForFunction(fn, { timeout: timeoutMs })),
    waitForSelector: async (selector) => void (await page.waitForSelector(selector, { timeout: 60_000 })),
    textContent: (selector) => page.$eval(selector, (e: Element) => e.textContent),
    screenshot: async (path) => void (await page.screenshot({ path, fullPage: true })),
    async block(pattern) {
      const blocked: string[] = [];
      if (kind === 'chromium') {
        await page.route((url: URL) => pattern.test(url.href), (route: any) => {
          blocked.push(route.request().url());
          return route.abort('blockedbyclient');
        });
        return blocked;
      }
      await page.setRequestInterception(true);
      page.on('request', (req: any) => {
        if (req.isInterceptResolutionHandled()) return;
        if (pattern.test(req.url())) {
          blocked.push(req.url());
          void req.abort();
        } else void req.continue();
      });
      return blocked;
    },
    async throttle(bytesPerSecond) {
      if (kind !== 'chromium') throw new Error('throttle(): CDP network emulation is Chromium\'s; throttle in the server for Firefox');
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Network.enable');
      await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 20, downloadThroughput: bytesPerSecond, uploadThroughput: bytesPerSecond });
    },
    async limitStorage(bytes) {
      if (kind !== 'chromium') throw new Error('limitStorage(): CDP quota override is Chromium\'s; launch Firefox with storageLimitKiB');
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Storage.overrideQuotaForOrigin', { origin: new URL(page.url()).origin, quotaSize: bytes });
    },
    close: () => page.close(),
  };
}

/**
 * Launches the browser (fresh profile) and a server on a free port; `isolate: false` drops COOP/COEP,
 * `ranges: false` makes the server ignore Range headers (the loader then streams one response).
 */
export interface ServerOptions {
  readonly isolate?: boolean;
  readonly ranges?: boolean;
  /** Bytes per second for file bodies (tools/serve.mjs `throttle`). */
  readonly throttle?: number;
  /** Firefox: the whole profile's storage limit (pref dom.quotaManager.temporaryStorage.fixedLimit), in KiB. */
  readonly storageLimitKiB?: number;
  /** Answers a request itself when it returns true (tools/serve.mjs `intercept`). */
  readonly intercept?: (pathname: string, req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => boolean;
}

export async function launch(kind: BrowserName, { isolate = true, ranges = true, throttle = 0, intercept, storageLimitKiB }: ServerOptions = {}): Promise<Browser> {
  const missing = browserMissing[kind];
  if (missing) throw new Error(`cannot run the ${kind} tests: ${missing}`);
  // @ts-expect-error: a plain .mjs module without types
  const { startServer } = await import('../../tools/serve.mjs');
  const server = await startServer({ root: ROOT, port: 0, isolate, ranges, throttle, intercept });
  let newPage: () => Promise<any>;
  let closeBrowser: () => Promise<void>;
  let version: string;
  if (kind === 'chromium') {
    const profile = mkdtempSync(join(tmpdir(), 'vggc-chromium-'));
    const context = await playwright.chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
    version = context.browser()?.version() ?? 'chromium';
    newPage = () => context.newPage();
    closeBrowser = async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    };
  } else {
    // puppeteer makes (and removes) its own temporary profile.
    const extraPrefsFirefox = storageLimitKiB === undefined ? {} : { 'dom.quotaManager.temporaryStorage.fixedLimit': storageLimitKiB };
    const browser = await puppeteer.default.launch({ browser: 'firefox', executablePath: FIREFOX, protocol: 'webDriverBiDi', headless: true, protocolTimeout: LONG_MS, extraPrefsFirefox });
    version = await browser.version();
    newPage = () => browser.newPage();
    closeBrowser = () => browser.close();
  }
  return {
    kind,
    version,
    url: server.url,
    async open(path: string) {
      const page = await newPage();
      const console: string[] = [];
      page.on('console', (m: any) => console.push(`${m.type()}: ${m.text()}`));
      page.on('pageerror', (e: Error) => console.push(`pageerror: ${e.message}`));
      await page.goto(`${server.url}/${path}`);
      return { page: wrapPage(kind, page), console };
    },
    async close() {
      await closeBrowser();
      await server.close();
    },
  };
}

/** Compiles an example into build/<name> unless a valid compile is already there. */
/** Named outputs of the Fashion-MNIST model in `fashion-mnist-outputs`: a pre-pool map, the hidden layer, the logits. */
export const FASHION_OUTPUTS = ['relu2_1', 'fc6', 'logits'] as const;

export async function ensureCompiled(name: 'fashion-mnist' | 'fashion-mnist-int8' | 'fashion-mnist-outputs' | 'vgg11'): Promise<string> {
  const outDir = join(ROOT, 'build', name);
  try {
    const manifest = checkManifest(JSON.parse(readFileSync(join(outDir, 'model.json'), 'utf8')), 'model.json');
    for (const f of [manifest.wasm.file, ...manifest.weights.shards.map((s) => s.file)]) if (!existsSync(join(outDir, f))) throw new Error(`no ${f}`);
    // A folder compiled before the compiler (dist/compiler, assembly/) last changed is stale.
    if (statSync(join(outDir, 'model.json')).mtimeMs < newestMtime([join(ROOT, 'dist/compiler'), join(ROOT, 'assembly')])) throw new Error('stale');
    return outDir;
  } catch {
    const { compileModel } = await import('../../compiler/pipeline.js');
    if (name.startsWith('fashion-mnist')) {
      const ex = join(ROOT, 'examples/fashion-mnist');
      const outputs = name === 'fashion-mnist-outputs' ? [...FASHION_OUTPUTS] : undefined;
      await compileModel({ configPath: join(ex, 'fashion-mnist.json'), weightsPath: join(ex, 'weights.safetensors'), outDir, weightsDtype: name.endsWith('int8') ? 'int8' : 'f32', outputs });
    } else {
      await compileModel({ configPath: join(ROOT, 'examples/vgg11.json'), outDir });
    }
    return outDir;
  }
}

/** Latest modification time of any file below the given folders. */
function newestMtime(dirs: readonly string[]): number {
  let newest = 0;
  for (const dir of dirs) {
    for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
    }
  }
  return newest;
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
