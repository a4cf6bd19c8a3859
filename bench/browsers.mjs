// @ts-check
/**
 * The headless browsers the browser benchmarks drive (bench/browser.mjs, bench/load.mjs): Debian's
 * chromium through playwright-core, in a fresh persistent profile, and firefox-esr through
 * puppeteer-core over WebDriver BiDi (its own temporary profile). VGGC_CHROMIUM and VGGC_FIREFOX
 * override the browser paths.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CHROMIUM = process.env.VGGC_CHROMIUM ?? '/usr/lib/chromium/chromium';
const FIREFOX = process.env.VGGC_FIREFOX ?? '/usr/lib/firefox-esr/firefox-esr';
// The flags headless Debian chromium needs here (docs/performance.md, "Browsers"; same as test/browser/browser-env.ts).
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
/** Benchmark pages load 642 MB models and time many inferences: far beyond the drivers' defaults. */
const LONG_MS = 900_000;

/**
 * @param {string} kind  `chromium` or `firefox`
 * @returns {Promise<{ version: string, newPage: () => Promise<any>, waitForFunction: (page: any, fn: () => unknown, timeoutMs: number) => Promise<unknown>, close: () => Promise<void> }>}
 */
export async function launchBrowser(kind) {
  if (kind === 'chromium') {
    const { chromium } = await import('playwright-core');
    const profile = mkdtempSync(join(tmpdir(), 'vggc-bench-chromium-'));
    const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
    return {
      version: `Chromium ${context.browser()?.version()}`,
      newPage: () => context.newPage(),
      // playwright: (fn, arg, options)
      waitForFunction: (page, fn, timeoutMs) => page.waitForFunction(fn, null, { timeout: timeoutMs }),
      close: async () => {
        await context.close();
        rmSync(profile, { recursive: true, force: true });
      },
    };
  }
  if (kind === 'firefox') {
    const puppeteer = (await import('puppeteer-core')).default;
    const browser = await puppeteer.launch({ browser: 'firefox', executablePath: FIREFOX, protocol: 'webDriverBiDi', headless: true, protocolTimeout: LONG_MS });
    return {
      version: (await browser.version()).replace(/^firefox\//, 'Firefox '),
      newPage: () => browser.newPage(),
      // puppeteer: (fn, options)
      waitForFunction: (page, fn, timeoutMs) => page.waitForFunction(fn, { timeout: timeoutMs }),
      close: () => browser.close(),
    };
  }
  throw new Error(`unknown browser ${kind} (chromium, firefox)`);
}
