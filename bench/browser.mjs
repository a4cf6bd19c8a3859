// @ts-check
/**
 * Browser benchmark: VGG-11 (batch 1) in headless Chromium and Firefox, vggc (deterministic and
 * relaxed builds) against TensorFlow.js wasm, 1 and 2 threads, on a cross-origin-isolated page served
 * by tools/serve.mjs. Each configuration runs in its own page (examples/browser/bench-run.html), one
 * at a time, median of --runs after 2 warm-up runs.
 *
 *   npm run build && node bench/browser.mjs [--runs 7] [--browsers chromium,firefox]
 *
 * Compiles examples/vgg11.json into build/vgg11 first (seeded random weights) so the page times the
 * current compiler. Writes bench/results/browser-latest.json. Needs Debian's chromium (driven by
 * playwright-core) and firefox-esr (puppeteer-core over WebDriver BiDi), both devDependencies;
 * VGGC_CHROMIUM and VGGC_FIREFOX override the browser paths.
 */
import { writeFileSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { launchBrowser } from './browsers.mjs';
import { ROOT } from './common.mjs';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' }, browsers: { type: 'string', default: 'chromium,firefox' } } });
const runs = Number(values.runs);
const browsers = values.browsers.split(',').map((b) => b.trim());

const CONFIGS = [
  { label: 'vggc, deterministic build (the default)', query: 'engine=vggc&build=deterministic' },
  { label: 'vggc, relaxed-SIMD build', query: 'engine=vggc&build=relaxed' },
  { label: 'TensorFlow.js wasm (threaded SIMD build)', query: 'engine=tfjs' },
];

const { compileModel } = await import(join(ROOT, 'dist/compiler/pipeline.js'));
process.stderr.write('compiling examples/vgg11.json into build/vgg11…\n');
await compileModel({ configPath: join(ROOT, 'examples/vgg11.json'), outDir: join(ROOT, 'build/vgg11') });

const { startServer } = await import(join(ROOT, 'tools/serve.mjs'));
const server = await startServer({ root: ROOT, port: 0, isolate: true });

/** @type {any[]} */
const results = [];
const versions = {};
const loadStart = loadavg()[0];
try {
  for (const kind of browsers) {
    const b = await launchBrowser(kind);
    versions[kind] = b.version;
    try {
      for (const threads of [1, 2]) {
        for (const c of CONFIGS) {
          const page = await b.newPage();
          await page.goto(`${server.url}/examples/browser/bench-run.html?${c.query}&threads=${threads}&runs=${runs}`);
          await b.waitForFunction(page, () => /** @type {any} */ (window).benchResult, 600_000);
          const r = await page.evaluate(() => /** @type {any} */ (window).benchResult);
          await page.close();
          if (r.error) throw new Error(`${b.version}, ${c.label}, ${threads} thread(s): ${r.error}`);
          results.push({ browser: b.version, label: c.label, requestedThreads: threads, ...r });
          process.stderr.write(`${b.version}, ${c.label}, ${threads} thread(s): median ${r.median.toFixed(1)} ms (first ${r.firstMs.toFixed(0)} ms, load ${r.loadMs.toFixed(0)} ms)\n`);
        }
      }
    } finally {
      await b.close();
    }
  }
} finally {
  await server.close();
}

for (const version of Object.values(versions)) {
  const mine = results.filter((r) => r.browser === version);
  const tfjs = (/** @type {number} */ t) => mine.find((r) => r.engine === 'tfjs-wasm' && r.requestedThreads === t);
  console.log(`\nVGG-11, batch 1, headless ${version}, ${cpus().length} cores; median of ${runs} after 2 warm-up runs; ratio to TensorFlow.js wasm with the same thread count\n`);
  console.log(`${'engine'.padEnd(44)} ${'1 thread'.padStart(18)} ${'2 threads'.padStart(18)} ${'load 1T / 2T'.padStart(16)}`);
  for (const c of CONFIGS) {
    const row = (/** @type {number} */ t) => mine.find((x) => x.label === c.label && x.requestedThreads === t);
    const cell = (/** @type {number} */ t) => `${row(t).median.toFixed(0)} ms (${(row(t).median / tfjs(t).median).toFixed(2)}×)`;
    console.log(`${c.label.padEnd(44)} ${cell(1).padStart(18)} ${cell(2).padStart(18)} ${`${row(1).loadMs.toFixed(0)} / ${row(2).loadMs.toFixed(0)} ms`.padStart(16)}`);
  }
}
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const out = join(ROOT, 'bench/results/browser-latest.json');
writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), browsers: versions, cores: cpus().length, cpu: cpus()[0]?.model, loadAverage: { start: loadStart, end: loadavg()[0] }, vggc: pkg.version, runs, results }, null, 2)}\n`);
console.log(`\nwrote ${out}`);
