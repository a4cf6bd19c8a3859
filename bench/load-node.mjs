// @ts-check
/**
 * Node load-time benchmark (issue 15): `loadModel(dir, { threads: 1 })` on VGG-11 f32 and int8, each
 * load in a fresh process (what a server start or a CLI run pays: cold V8, fresh wasm memory, the
 * weights in the page cache after the first round): verified (XXH64, the default), with
 * `verify: 'sha256'` and with `verify: false`, interleaved so that the machine's load hits every
 * variant alike. Medians; the differences are the checks' costs.
 *
 *   npm run build && node bench/load-node.mjs [--runs 11] [--models vgg11,vgg11-int8] [--node PATH]
 *
 * Expects build/vgg11 and build/vgg11-int8 (see bench/load.mjs). Prints a Markdown table; writes
 * bench/results/load-node-latest.json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { RESULTS_DIR, ROOT } from './common.mjs';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '11' }, models: { type: 'string', default: 'vgg11,vgg11-int8' }, node: { type: 'string', default: process.execPath } } });
const runs = Number(values.runs);
const models = values.models.split(',');
for (const m of models) if (!existsSync(join(ROOT, 'build', m, 'model.json'))) throw new Error(`build/${m} is missing: compile it first (see the header of bench/load.mjs)`);

/** One load in a fresh process: its milliseconds, from just before loadModel to its resolution. */
const child = `
const { loadModel } = await import(${JSON.stringify(join(ROOT, 'dist/runtime/load/node.js'))});
const [dir, verify] = process.argv.slice(1);
const t = performance.now();
const m = await loadModel(dir, { threads: 1, verify: verify === 'sha256' ? 'sha256' : verify === 'true' });
const ms = performance.now() - t;
m.dispose();
console.log(ms);
`;
function loadOnce(dir, verify) {
  const r = spawnSync(values.node, ['--input-type=module', '-e', child, dir, String(verify)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${dir}: the load failed: ${r.stderr.trim()}`);
  return Number(r.stdout.trim());
}

const variants = models.flatMap((m) => [true, 'sha256', false].map((verify) => ({ model: m, verify, ms: /** @type {number[]} */ ([]) })));
const load = [loadavg()[0]];
for (const v of variants) loadOnce(join(ROOT, 'build', v.model), v.verify); // page cache warm, not timed
for (let r = 0; r < runs; r++) {
  for (const v of variants) v.ms.push(loadOnce(join(ROOT, 'build', v.model), v.verify));
  process.stderr.write(`round ${r + 1}/${runs}\r`);
}
load.push(loadavg()[0]);
const median = (/** @type {number[]} */ xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const version = spawnSync(values.node, ['--version'], { encoding: 'utf8' }).stdout.trim();
console.log(`\nNode ${version}, ${cpus().length} × ${cpus()[0]?.model ?? '?'}, load average ${load[0].toFixed(1)} → ${load[1].toFixed(1)}, ${runs} rounds, medians\n`);
console.log('| model | XXH64 (default) | `verify: false` | XXH64 check | `verify: \'sha256\'` | SHA-256 check |');
console.log('| --- | --- | --- | --- | --- | --- |');
const pct = (/** @type {number} */ a, /** @type {number} */ b) => `${a >= b ? '+' : '−'}${Math.abs(a - b).toFixed(0)} ms (${a >= b ? '+' : '−'}${Math.abs((a / b - 1) * 100).toFixed(0)} %)`;
const rows = models.map((m) => {
  const of = (/** @type {boolean | string} */ verify) => median(variants.find((v) => v.model === m && v.verify === verify)?.ms ?? []);
  const [on, sha, off] = [of(true), of('sha256'), of(false)];
  console.log(`| ${m} | ${on.toFixed(0)} ms | ${off.toFixed(0)} ms | ${pct(on, off)} | ${sha.toFixed(0)} ms | ${pct(sha, off)} |`);
  return { model: m, verifiedMs: on, sha256Ms: sha, unverifiedMs: off };
});
writeFileSync(join(RESULTS_DIR, 'load-node-latest.json'), JSON.stringify({ date: new Date().toISOString(), node: version, cpus: cpus().length, loadAverage: load, runs, rows, samples: variants }, null, 2) + '\n');
