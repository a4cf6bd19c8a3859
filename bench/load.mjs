// @ts-check
/**
 * Load-time benchmark (issue 15): VGG-11 f32 and int8 in headless Chromium and Firefox, through
 * examples/browser/load.html on a cross-origin-isolated page served by tools/serve.mjs on
 * 127.0.0.1 (so "network" is loopback: the time to fetch, verify and copy, not a real link). Per
 * browser and model, in a fresh profile, rounds of: a load from the network (cache cleared first,
 * shards stored as they pass), one from the Cache API, and two from the network that store nothing
 * (cache: false), verified and with verify: false: their difference is the check's cost. Medians.
 *
 *   npm run build && node bench/load.mjs [--runs 3] [--browsers chromium,firefox] [--models vgg11,vgg11-int8]
 *
 * Expects build/vgg11 (npx vggc compile examples/vgg11.json -o build/vgg11) and build/vgg11-int8
 * (… --weights-dtype int8 -o build/vgg11-int8). Prints a Markdown table; writes bench/results/load-latest.json.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { launchBrowser } from './browsers.mjs';
import { ROOT } from './common.mjs';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, browsers: { type: 'string', default: 'chromium,firefox' }, models: { type: 'string', default: 'vgg11,vgg11-int8' } } });
const runs = Number(values.runs);
const models = values.models.split(',');
for (const m of models) if (!existsSync(join(ROOT, 'build', m, 'model.json'))) throw new Error(`build/${m} is missing: compile it first (see the header of bench/load.mjs)`);

const { startServer } = await import(join(ROOT, 'tools/serve.mjs'));
const server = await startServer({ root: ROOT, port: 0, isolate: true });

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const results = [];
const start = loadavg()[0];
for (const kind of values.browsers.split(',')) {
  const b = await launchBrowser(kind);
  for (const model of models) {
    const page = await b.newPage();
    await page.goto(`${server.url}/examples/browser/load.html?model=../../build/${model}/`);
    const load = (opts) => page.evaluate((o) => /** @type {any} */ (window).vggcLoad.load(o), opts);
    const clear = () => page.evaluate(() => /** @type {any} */ (window).vggcLoad.clearCache());
    const times = { network: [], cache: [], uncached: [], unverified: [] };
    for (let r = 0; r < runs; r++) {
      await clear();
      const net = await load({});
      if (net.cachedBytes !== 0) throw new Error('network load read the cache');
      times.network.push(net.ms);
      const cached = await load({});
      if (cached.cachedBytes !== cached.totalBytes) throw new Error(`cache load read ${cached.cachedBytes} of ${cached.totalBytes} bytes from the cache (quota?)`);
      times.cache.push(cached.ms);
      times.uncached.push((await load({ cache: false })).ms);
      times.unverified.push((await load({ verify: false, cache: false })).ms);
    }
    await page.close();
    const row = { browser: b.version, model, runs, ...Object.fromEntries(Object.entries(times).map(([k, v]) => [k, { median: median(v), all: v }])) };
    results.push(row);
    console.error(JSON.stringify(row));
  }
  await b.close();
}
await server.close();
const machine = { cpus: cpus().length, model: cpus()[0]?.model, loadAverage: { start, end: loadavg()[0] } };
writeFileSync(join(ROOT, 'bench/results/load-latest.json'), `${JSON.stringify({ date: new Date().toISOString(), machine, results }, null, 2)}\n`);
const s = (t) => `${(t.median / 1000).toFixed(2)} s`;
console.log('| browser | model | network, stored in the cache | network, cache: false | network, cache: false, verify: false | from the Cache API |');
console.log('|---|---|---|---|---|---|');
for (const r of results) console.log(`| ${r.browser} | ${r.model} | ${s(r.network)} | ${s(r.uncached)} | ${s(r.unverified)} | ${s(r.cache)} |`);
console.log(`\n${runs} rounds, medians; load average ${start.toFixed(1)} → ${loadavg()[0].toFixed(1)} on ${cpus().length} cores`);
