// @ts-check
/**
 * npm run bench:serve — throughput and latency of `vggc serve` under autocannon, with and without
 * dynamic batching, against the ~30-line node:http + loadModel server a user would write
 * (bench/serve-baseline.mjs), on VGG-11 (seeded random weights) and the Fashion-MNIST example, at
 * 1, 8 and 32 connections. Every server runs the deterministic build; each request is one image.
 *
 *   node bench/serve.mjs [--quick] [--models fashion,vgg11] [--connections 1,8,32] [--threads N] [--servers 0,2] [--out FILE]
 *
 * Writes bench/results/serve-latest.json and prints a Markdown table. autocannon runs in this
 * process, on the same 2 cores as the server: the figures include that contention.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { benchInput, RESULTS_DIR, ROOT } from './common.mjs';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const quick = args.includes('--quick');
const connections = flag('connections', '1,8,32').split(',').map(Number);
const threads = flag('threads', undefined);
const CLI = join(ROOT, 'dist/compiler/cli.js');

const MODELS = {
  fashion: { dir: join(ROOT, 'build/fashion-mnist'), compile: ['examples/fashion-mnist/fashion-mnist.json', '--weights', 'examples/fashion-mnist/weights.safetensors'], seconds: quick ? 3 : 10 },
  vgg11: { dir: join(ROOT, 'build/vgg11'), compile: ['examples/vgg11.json'], seconds: quick ? 5 : 15 },
};
const models = flag('models', 'fashion,vgg11').split(',');

const threadArgs = threads ? ['--threads', threads] : [];
const serve = (dir, port, ...extra) => [CLI, 'serve', dir, '--port', String(port), ...extra, ...threadArgs];
const SERVERS = [
  { name: 'node:http + loadModel (baseline)', cmd: (dir, port) => [join(ROOT, 'bench/serve-baseline.mjs'), dir, String(port), ...(threads ? [threads] : [])], body: 'json' },
  { name: 'vggc serve --max-batch 1 (no batching)', cmd: (dir, port) => serve(dir, port, '--max-batch', '1'), body: 'json' },
  { name: 'vggc serve --max-batch 8 --batch-window-ms 0', cmd: (dir, port) => serve(dir, port, '--max-batch', '8', '--batch-window-ms', '0'), body: 'json' },
  { name: 'vggc serve --max-batch 8 --batch-window-ms 2', cmd: (dir, port) => serve(dir, port, '--max-batch', '8', '--batch-window-ms', '2'), body: 'json' },
  { name: 'vggc serve --max-batch 8 --batch-window-ms 0, binary tensors', cmd: (dir, port) => serve(dir, port, '--max-batch', '8', '--batch-window-ms', '0'), body: 'binary' },
];

function ensureCompiled(model) {
  if (existsSync(join(model.dir, 'model.json'))) return;
  console.error(`compiling ${model.dir}…`);
  const r = spawnSync(process.execPath, [CLI, 'compile', ...model.compile, '-o', model.dir, '-q'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`vggc compile failed for ${model.dir}`);
}

/** Starts a server and resolves with its URL once it printed `listening on …`. */
function start(argv) {
  const proc = spawn(process.execPath, argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve({ proc, url: m[1] });
    });
    proc.once('exit', (code) => reject(new Error(`${argv.join(' ')} exited (${code}) before listening`)));
  });
}

function stop(proc) {
  return new Promise((resolve) => {
    proc.once('exit', resolve);
    proc.kill('SIGTERM');
  });
}

/** One image as the OIP request: JSON (4 decimals, as a client would round) or the binary extension. */
function requestFor(kind, [c, h, w]) {
  const x = benchInput(1, c, h, w).map((v) => Math.round(v * 1e4) / 1e4);
  const input = { name: 'input', shape: [1, c, h, w], datatype: 'FP32' };
  // Both ask for the logits only: a classifier also has its penultimate layer as an output (4096 floats for VGG-11).
  if (kind === 'json') return { body: JSON.stringify({ inputs: [{ ...input, data: Array.from(x) }], outputs: [{ name: 'logits' }] }), headers: { 'content-type': 'application/json' } };
  const header = Buffer.from(JSON.stringify({ inputs: [{ ...input, parameters: { binary_data_size: x.byteLength } }], outputs: [{ name: 'logits', parameters: { binary_data: true } }] }));
  return { body: Buffer.concat([header, Buffer.from(x.buffer)]), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) } };
}

const rows = [];
for (const key of models) {
  const model = MODELS[key];
  ensureCompiled(model);
  const manifest = JSON.parse(readFileSync(join(model.dir, 'model.json'), 'utf8'));
  const only = flag('servers', undefined)?.split(',').map(Number);
  for (const [i, server] of SERVERS.entries()) {
    if (only && !only.includes(i)) continue;
    const { proc, url } = await start(server.cmd(model.dir, 8100 + i));
    const { body, headers } = requestFor(server.body, manifest.input.shape);
    const target = `${url}/v2/models/${manifest.name}/infer`; // the baseline answers on any path
    await autocannon({ url: target, method: 'POST', body, headers, connections: 4, duration: 1 }); // warm-up
    for (const conns of connections) {
      const load = loadavg()[0];
      // A generous timeout: at 32 connections a VGG-11 request waits many batches, and a client that
      // gives up would waste the batch its request is in.
      const r = await autocannon({ url: target, method: 'POST', body, headers, connections: conns, duration: model.seconds, timeout: 120 });
      const row = { model: manifest.name, server: server.name, connections: conns, requestsPerSecond: r.requests.average, p50ms: r.latency.p50, p99ms: r.latency.p99, non2xx: r.non2xx, errors: r.errors, timeouts: r.timeouts, loadAverage: load };
      rows.push(row);
      console.error(`${row.model} | ${row.server} | ${conns} | ${row.requestsPerSecond.toFixed(1)} req/s | p50 ${row.p50ms} ms | p99 ${row.p99ms} ms | non-2xx ${row.non2xx} | errors ${row.errors} | load ${load.toFixed(2)}`);
    }
    await stop(proc);
  }
}

mkdirSync(RESULTS_DIR, { recursive: true });
writeFileSync(join(RESULTS_DIR, flag('out', 'serve-latest.json')), `${JSON.stringify({ date: new Date().toISOString(), node: process.version, quick, threads: threads ?? 'default', rows }, null, 2)}\n`);
console.log('| model | server | connections | req/s | p50 | p99 | non-2xx | load avg |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.model} | ${r.server} | ${r.connections} | ${r.requestsPerSecond.toFixed(1)} | ${r.p50ms} ms | ${r.p99ms} ms | ${r.non2xx + r.errors} | ${r.loadAverage.toFixed(2)} |`);
const failed = rows.filter((r) => r.non2xx || r.errors || r.timeouts);
if (failed.length) {
  console.error(`bench:serve: ${failed.length} run(s) had non-2xx answers, errors or timeouts: ${failed.map((r) => `${r.server} at ${r.connections}`).join('; ')}`);
  process.exitCode = 1;
}
