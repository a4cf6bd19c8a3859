// @ts-check
/**
 * Browser benchmark: VGG-11 (batch 1) in headless Chromium, vggc (relaxed and deterministic builds)
 * against TensorFlow.js wasm, 1 and 2 threads, on a cross-origin-isolated page served by
 * tools/serve.mjs. Each configuration runs in its own page (examples/browser/bench-run.html), one at a
 * time, median of --runs after 2 warm-up runs.
 *
 *   npm run build && node bench/browser.mjs [--runs 7]
 *
 * Compiles examples/vgg11.json into build/vgg11 first (seeded random weights) so the page times the
 * current compiler. Writes bench/results/browser-latest.json. Needs Debian's chromium and
 * playwright-core (a devDependency); VGGC_CHROMIUM overrides the browser path.
 */
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from './common.mjs';

const CHROMIUM = process.env.VGGC_CHROMIUM ?? '/usr/lib/chromium/chromium';
// The flags headless Debian chromium needs here (docs/performance.md, "Browsers"; same as test/browser/browser-env.ts).
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } } });
const runs = Number(values.runs);

const CONFIGS = [
  { label: 'vggc, relaxed-SIMD build (the default in Chromium)', query: 'engine=vggc&build=relaxed' },
  { label: 'vggc, deterministic build', query: 'engine=vggc&build=deterministic' },
  { label: 'TensorFlow.js wasm (threaded SIMD build)', query: 'engine=tfjs' },
];

const { compileModel } = await import(join(ROOT, 'dist/compiler/pipeline.js'));
process.stderr.write('compiling examples/vgg11.json into build/vgg11…\n');
await compileModel({ configPath: join(ROOT, 'examples/vgg11.json'), outDir: join(ROOT, 'build/vgg11') });

const { chromium } = await import('playwright-core');
const { startServer } = await import(join(ROOT, 'tools/serve.mjs'));
const server = await startServer({ root: ROOT, port: 0, isolate: true });
const profile = mkdtempSync(join(tmpdir(), 'vggc-bench-chromium-'));
const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: ARGS });
const browserVersion = context.browser()?.version() ?? (await (await context.newPage()).evaluate(() => navigator.userAgent));

/** @type {any[]} */
const results = [];
try {
  for (const threads of [1, 2]) {
    for (const c of CONFIGS) {
      const page = await context.newPage();
      await page.goto(`${server.url}/examples/browser/bench-run.html?${c.query}&threads=${threads}&runs=${runs}`);
      await page.waitForFunction(() => /** @type {any} */ (window).benchResult, null, { timeout: 600_000 });
      const r = await page.evaluate(() => /** @type {any} */ (window).benchResult);
      await page.close();
      if (r.error) throw new Error(`${c.label}, ${threads} thread(s): ${r.error}`);
      results.push({ label: c.label, requestedThreads: threads, ...r });
      process.stderr.write(`${c.label}, ${threads} thread(s): median ${r.median.toFixed(1)} ms (first ${r.firstMs.toFixed(0)} ms, load ${r.loadMs.toFixed(0)} ms)\n`);
    }
  }
} finally {
  await context.close();
  await server.close();
  rmSync(profile, { recursive: true, force: true });
}

const tfjs = (/** @type {number} */ t) => results.find((r) => r.engine === 'tfjs-wasm' && r.requestedThreads === t);
console.log(`\nVGG-11, batch 1, headless ${browserVersion}, ${cpus().length} cores; median of ${runs} after 2 warm-up runs; ratio to TensorFlow.js wasm with the same thread count\n`);
console.log(`${'engine'.padEnd(52)} ${'1 thread'.padStart(18)} ${'2 threads'.padStart(18)}`);
for (const c of CONFIGS) {
  const cell = (/** @type {number} */ t) => {
    const r = results.find((x) => x.label === c.label && x.requestedThreads === t);
    return `${r.median.toFixed(0)} ms (${(r.median / tfjs(t).median).toFixed(2)}×)`;
  };
  console.log(`${c.label.padEnd(52)} ${cell(1).padStart(18)} ${cell(2).padStart(18)}`);
}
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const out = join(ROOT, 'bench/results/browser-latest.json');
writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), browser: browserVersion, cores: cpus().length, cpu: cpus()[0]?.model, vggc: pkg.version, runs, results }, null, 2)}\n`);
console.log(`\nwrote ${out}`);
