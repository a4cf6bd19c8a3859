/**
 * Shared set-up of the browser tests: Debian's chromium driven by playwright-core, launched exactly
 * with the flags docs/performance.md ("Browsers") lists, and tools/serve.mjs serving the repository root.
 *
 * When chromium or playwright-core is missing, the tests fail loudly in CI (process.env.CI) and are
 * skipped with a message elsewhere.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'vitest';
import { checkManifest } from '../../runtime/format/manifest-check.js';
import { readFileSync } from 'node:fs';

export const ROOT = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
export const CHROMIUM = process.env.VGGC_CHROMIUM ?? '/usr/lib/chromium/chromium';
export const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/* eslint-disable @typescript-eslint/no-explicit-any */
type Playwright = { chromium: { launchPersistentContext(dir: string, opts: object): Promise<any> } };

async function findPlaywright(): Promise<Playwright | string> {
  try {
    const name = 'playwright-core';
    return (await import(name)) as Playwright;
  } catch {
    return 'playwright-core is not installed (npm i -D playwright-core)';
  }
}

const playwright = await findPlaywright();
const missing: string | null =
  typeof playwright === 'string'
    ? playwright
    : !existsSync(CHROMIUM)
      ? `no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set VGGC_CHROMIUM)`
      : !existsSync(join(ROOT, 'dist/runtime/browser.js'))
        ? 'dist/runtime/browser.js is missing (run npm run build first)'
        : null;

if (missing && !process.env.CI) console.warn(`browser tests skipped: ${missing}`);

/**
 * `it` for a browser test: runs when Chromium is there; in CI without it, runs and fails with the
 * reason; elsewhere it is skipped.
 */
export const browserIt = (name: string, fn: () => Promise<void>, timeout?: number): void => {
  if (!missing) it(name, fn, timeout);
  else if (process.env.CI) it(name, () => { throw new Error(`cannot run the browser tests: ${missing}`); });
  else it.skip(`${name} (skipped: ${missing})`, fn);
};
export const browserMissing = missing;

export interface Browser {
  /** A playwright BrowserContext. */
  readonly context: any;
  readonly url: string;
  /** Opens `path` (relative to the repository root) in a new page; collects its console. */
  open(path: string): Promise<{ page: any; console: string[] }>;
  close(): Promise<void>;
}

/** Launches Chromium (fresh profile) and a server on a free port; `isolate: false` drops COOP/COEP. */
export async function launch({ isolate = true } = {}): Promise<Browser> {
  if (missing || typeof playwright === 'string') throw new Error(`cannot run the browser tests: ${missing}`);
  // @ts-expect-error: a plain .mjs module without types
  const { startServer } = await import('../../tools/serve.mjs');
  const server = await startServer({ root: ROOT, port: 0, isolate });
  const profile = mkdtempSync(join(tmpdir(), 'vggc-chromium-'));
  const context = await playwright.chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
  return {
    context,
    url: server.url,
    async open(path: string) {
      const page = await context.newPage();
      const console: string[] = [];
      page.on('console', (m: any) => console.push(`${m.type()}: ${m.text()}`));
      page.on('pageerror', (e: Error) => console.push(`pageerror: ${e.message}`));
      await page.goto(`${server.url}/${path}`);
      return { page, console };
    },
    async close() {
      await context.close();
      await server.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Compiles an example into build/<name> unless a valid compile is already there. */
export async function ensureCompiled(name: 'fashion-mnist' | 'fashion-mnist-int8' | 'vgg11'): Promise<string> {
  const outDir = join(ROOT, 'build', name);
  try {
    const manifest = checkManifest(JSON.parse(readFileSync(join(outDir, 'model.json'), 'utf8')), 'model.json');
    for (const f of [manifest.wasm.file, manifest.weights.file]) if (!existsSync(join(outDir, f))) throw new Error(`no ${f}`);
    // A folder compiled before the compiler (dist/compiler, assembly/) last changed is stale.
    if (statSync(join(outDir, 'model.json')).mtimeMs < newestMtime([join(ROOT, 'dist/compiler'), join(ROOT, 'assembly')])) throw new Error('stale');
    return outDir;
  } catch {
    const { compileModel } = await import('../../compiler/pipeline.js');
    if (name === 'fashion-mnist' || name === 'fashion-mnist-int8') {
      const ex = join(ROOT, 'examples/fashion-mnist');
      await compileModel({ configPath: join(ex, 'fashion-mnist.json'), weightsPath: join(ex, 'weights.safetensors'), outDir, weightsDtype: name.endsWith('int8') ? 'int8' : 'f32' });
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
