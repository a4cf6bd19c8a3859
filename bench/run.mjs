#!/usr/bin/env node
// @ts-check
/**
 * vggc benchmark: vggc against TensorFlow.js (wasm, optionally cpu) and ONNX Runtime (Web/wasm,
 * optionally native Node) on the same VGG architectures, in one run on one machine.
 *
 *   npm run build && node bench/run.mjs [--models vgg11,vgg16] [--batches 1,8] [--runs 7]
 *        [--engines vggc,tfjs-wasm,tfjs-cpu,ort-web,ort-node] [--without-cpu] [--quick] [--seed 0]
 *
 * - vggc models are compiled (compileModel, seeded random weights) into bench/cache/ and reused
 *   while the config, seed, compile options and the built compiler (dist/, assembly/) are unchanged.
 * - TensorFlow.js runs the same network from the SAME seeded weights; its logits are checked once
 *   against vggc's (max|Δ| ≤ 1e-4·max|y|).
 * - ONNX Runtime runs a model exported by bench/export_onnx.py (Debian's python3-torch) with torch's own
 *   random weights: timing only. Without torch, the ORT engines are skipped with a note.
 * - Every engine runs in its own process (bench/worker.mjs); all engines of one model/batch are
 *   loaded first, then timed round by round (one inference per engine per round, the order rotating),
 *   so slow drift of the machine hits every engine alike. Reported: median of the timed runs, first
 *   inference, load time, peak RSS of the process.
 * - Then a per-layer breakdown of each vggc model (bench/layers.mjs), one image.
 * - Writes bench/results/latest.json, latest.svg (latency bars) and latest-roofline.svg (bench/roofline.mjs).
 */
import { fork, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { argmaxRows, BENCH_DIR, CACHE_DIR, importDist, median, relError, RESULTS_DIR, ROOT } from './common.mjs';
import { measureCeiling, reportedGflops } from './ceiling.mjs';
import { formatLayerRows } from './layers.mjs';
import { rooflineSvg, stepBytes } from './roofline.mjs';
import { VGGC_VARIANTS } from './variants.mjs';
import { probe, runtime } from '../tools/runtimes/runtimes.mjs';


/** ONNX Runtime variants (intra-op threads). */
const ORT_WEB_THREADS = [1, 2];
const ORT_NODE_THREADS = [1, 2];

const TOLERANCE = 1e-4;
/** Default pause before each timed inference, so that another engine's idle spinning threads have stopped. */
const GAP_MS = 50;
const REFERENCE_ENGINE = 'tfjs-wasm';

const HELP = `usage: node bench/run.mjs [options]     (run \`npm run build\` first)
  --models LIST     configs from examples/ (default vgg11,vgg16)
  --batches LIST    batch sizes (default 1,8)
  --runs N          timed runs per engine, median reported (default 7)
  --warmup N        untimed runs after the first inference (default 2)
  --engines LIST    vggc,tfjs-wasm,ort-web,ort-node (default: all; ort-node only when installed)
  --without-cpu     skip TensorFlow.js's cpu backend (plain JS, ~10 s/image; by default it runs
                    once, batch 1, except with --quick or an explicit --engines list)
  --layer-runs N    timed passes for the vggc per-layer breakdown (default: --runs)
  --seed N          seed of the random weights (default 0)
  --gap-ms N        pause before each timed inference, so that the engine before it has settled
                    (its spinning threads, its garbage collector) (default ${GAP_MS})
  --runtimes LIST   other runtimes with vggc rows: node20,node22,node26,deno,bun (default node20,deno,bun;
                    \`none\` for none); installed by \`npm run runtimes:install\`
  --out NAME        write bench/results/NAME.json and NAME.svg (default latest)
  --quick           smoke test: vgg11, batch 1, 3 runs, 1 warm-up
  -h, --help`;

async function main() {
  const { values: a } = parseArgs({
    options: {
      models: { type: 'string' },
      batches: { type: 'string' },
      runs: { type: 'string' },
      warmup: { type: 'string' },
      engines: { type: 'string' },
      'without-cpu': { type: 'boolean', default: false },
      'layer-runs': { type: 'string' },
      seed: { type: 'string' },
      'gap-ms': { type: 'string' },
      runtimes: { type: 'string' },
      out: { type: 'string', default: 'latest' },
      quick: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (a.help) {
    console.log(HELP);
    return;
  }
  const int = (s, d, name) => {
    if (s === undefined) return d;
    const v = Number(s);
    if (!Number.isSafeInteger(v) || v < 0) throw new Error(`--${name} must be a non-negative integer, got ${s}`);
    return v;
  };
  const list = (s, d) => (s === undefined ? d : s.split(',').map((x) => x.trim()).filter(Boolean));
  const quick = a.quick;
  const opts = {
    models: list(a.models, quick ? ['vgg11'] : ['vgg11', 'vgg16']),
    batches: list(a.batches, quick ? ['1'] : ['1', '8']).map((b) => int(b, 1, 'batches')),
    runs: Math.max(1, int(a.runs, quick ? 3 : 7, 'runs')),
    warmup: int(a.warmup, quick ? 1 : 2, 'warmup'),
    engines: list(a.engines, ['vggc', 'tfjs-wasm', 'ort-web', 'ort-node']),
    withCpu: !a['without-cpu'] && !quick && a.engines === undefined,
    seed: int(a.seed, 0, 'seed'),
    gapMs: int(a['gap-ms'], GAP_MS, 'gap-ms'),
    runtimes: a.runtimes === 'none' ? [] : list(a.runtimes, ['node20', 'deno', 'bun']),
    out: a.out,
    layerRuns: 0,
  };
  opts.layerRuns = Math.max(1, int(a['layer-runs'], opts.runs, 'layer-runs'));
  if (opts.withCpu && !opts.engines.includes('tfjs-cpu')) opts.engines.push('tfjs-cpu');
  for (const e of opts.engines) if (!['vggc', 'tfjs-wasm', 'tfjs-cpu', 'ort-web', 'ort-node'].includes(e)) throw new Error(`unknown engine ${e}`);
  for (const r of opts.runtimes) runtime(r); // throws for an unknown name
  if (!/^[\w.-]+$/.test(opts.out)) throw new Error(`--out must be a plain file name, got ${opts.out}`);
  const variants = VGGC_VARIANTS.filter((v) => !v.runtime || opts.runtimes.includes(v.runtime));
  for (const m of opts.models) if (!existsSync(join(ROOT, 'examples', `${m}.json`))) throw new Error(`no config examples/${m}.json`);

  const notes = [];
  const note = (s) => {
    notes.push(s);
    console.log(`note: ${s}`);
  };
  if (opts.runs < 7) note(`${opts.runs} timed runs per engine (fewer than the 7 a real measurement uses)`);
  warnIfDistStale(note);
  if (!process.versions.node.startsWith('24.')) note(`the runner is Node ${process.version}: the README's figures are Node 24's (npm run bench runs .runtimes' Node 24)`);
  const machine = machineInfo();
  const load = os.loadavg()[0];
  if (load > 0.5) note(`load average ${load.toFixed(2)} before starting: other processes are using the CPU, absolute times will be inflated (ratios within this run remain comparable)`);
  console.log(`vggc bench — ${machine.cpu}${machine.cpuFeatures ? ` (family ${machine.cpuFeatures.family} model ${machine.cpuFeatures.model}; ${machine.cpuFeatures.simd.join(', ')})` : ''}, ${machine.cores} cores, Node ${machine.node}, ${machine.date}`);
  console.log(`models ${opts.models.join(',')}, batches ${opts.batches.join(',')}, ${opts.runs} timed runs after ${opts.warmup} warm-up, engines ${opts.engines.join(',')}\n`);
  // The compute ceiling the per-layer rows and the roofline are held to, measured now on this machine.
  const c = await measureCeiling();
  const ceilingGflops = reportedGflops(c);
  machine.ceiling = { ...c, engine: `Node ${process.version}` };
  console.log(`compute ceiling: ${c.tile}, best ${c.gflops.toFixed(1)} GFLOP/s (median ${c.median.toFixed(1)}) of ${c.runs} runs on one thread (compiler/cli/ceiling.ts)\n`);

  mkdirSync(CACHE_DIR, { recursive: true });
  const torch = opts.engines.some((e) => e.startsWith('ort-')) ? torchVersion() : null;
  if (opts.engines.some((e) => e.startsWith('ort-')) && !torch) note('ONNX Runtime skipped: /usr/bin/python3 with torch (python3-torch) is needed to export the .onnx models');

  /** @type {any[]} */
  const results = [];
  /** @type {any[]} */
  const checks = [];
  /** @type {Record<string, any>} */
  const layers = {};
  const unavailable = new Map();

  for (const model of opts.models) {
    const configPath = join(ROOT, 'examples', `${model}.json`);
    // Prepare (untimed): compile vggc variants, export ONNX.
    const vggcDirs = new Map();
    if (opts.engines.includes('vggc')) {
      for (const v of variants) vggcDirs.set(v.label, await ensureVggc(model, configPath, opts.seed, v.compileOptions ?? {}));
    }
    const onnxPath = torch && opts.engines.some((e) => e.startsWith('ort-')) ? ensureOnnx(model, configPath, opts.seed, torch) : null;

    for (const batch of opts.batches) {
      /** @type {any[]} */
      const specs = [];
      for (const engine of opts.engines) {
        const base = { engine, model, configPath, batch, seed: opts.seed, warmup: opts.warmup };
        if (engine === 'vggc') for (const v of variants) specs.push({ ...base, label: v.label, dir: vggcDirs.get(v.label), loadOptions: v.loadOptions, nodeArgs: v.nodeArgs ?? [], runtime: v.runtime });
        if (engine === 'tfjs-wasm') specs.push({ ...base, label: 'TensorFlow.js wasm' });
        if (engine === 'tfjs-cpu') {
          if (batch === 1) specs.push({ ...base, label: 'TensorFlow.js cpu', warmup: 0, maxRuns: 1 });
          else note(`TensorFlow.js cpu: batch 1 only (≈10 s per image), skipped ${model} batch ${batch}`);
        }
        if (engine === 'ort-web' && onnxPath) for (const t of ORT_WEB_THREADS) specs.push({ ...base, label: `ORT Web wasm ${t}T`, onnxPath, threads: t });
        if (engine === 'ort-node' && onnxPath) for (const t of ORT_NODE_THREADS) specs.push({ ...base, label: `ORT Node native ${t}T`, onnxPath, threads: t });
      }
      for (const s of specs) {
        if (!s.runtime || unavailable.has(`runtime:${s.runtime}`)) continue;
        const p = probe(runtime(s.runtime));
        if (!p.ok) {
          note(`${s.runtime} rows skipped: ${p.reason}`);
          unavailable.set(`runtime:${s.runtime}`, p.reason);
        }
      }
      const runnable = specs.filter((s) => !unavailable.has(s.engine) && !(s.runtime && unavailable.has(`runtime:${s.runtime}`)));
      const measured = await measure(runnable, opts.runs, opts.gapMs, (s, reason) => {
        if (!unavailable.has(s.engine)) note(`${s.label}: skipped, ${reason}`);
        unavailable.set(s.engine, reason);
      });
      const ref = measured.find((m) => m.engine === REFERENCE_ENGINE);
      for (const m of measured) {
        const med = median(m.times);
        results.push({
          engine: m.label,
          kind: m.engine,
          model,
          inputSize: inputSizeOf(configPath),
          batch,
          medianMs: med,
          msPerImage: med / batch,
          minMs: Math.min(...m.times),
          maxMs: Math.max(...m.times),
          ratioToTfjsWasm: ref ? med / median(ref.times) : null,
          firstMs: m.firstMs,
          loadMs: m.loadMs,
          prepMs: m.prepMs,
          peakRssMB: m.maxRssMB,
          runtime: m.engineVersion,
          runs: m.times,
          notes: m.notes,
        });
      }
      // Cross-engine check: every engine that computes from vggc's seeded weights against the first vggc variant.
      const vggc0 = measured.find((m) => m.engine === 'vggc');
      if (vggc0) {
        const numClasses = vggc0.logits.length / batch;
        for (const m of measured) {
          if (m === vggc0 || m.engine.startsWith('ort-')) continue;
          const err = relError(m.logits, vggc0.logits);
          const sameArgmax = argmaxRows(m.logits, numClasses).join() === argmaxRows(vggc0.logits, numClasses).join();
          if (VGGC_VARIANTS.find((v) => v.label === m.label)?.quantised) {
            // Quantised weights move the logits by design: reported, not held to the f32 tolerance.
            checks.push({ model, batch, engine: m.label, against: vggc0.label, relError: err, sameArgmax, ok: true, quantised: true });
            console.log(`info ${model} batch ${batch}: ${m.label} vs ${vggc0.label} logits: max|Δ|/max|y| = ${err.toExponential(2)} (quantisation), argmax ${sameArgmax ? 'agrees' : 'differs'}`);
            continue;
          }
          const ok = err <= TOLERANCE && sameArgmax;
          checks.push({ model, batch, engine: m.label, against: vggc0.label, relError: err, sameArgmax, ok });
          console.log(`check ${model} batch ${batch}: ${m.label} vs ${vggc0.label} logits: max|Δ|/max|y| = ${err.toExponential(2)} ${err <= TOLERANCE ? '≤' : '>'} ${TOLERANCE}, argmax ${sameArgmax ? 'agrees' : 'DIFFERS'} — ${ok ? 'OK' : 'FAIL'}`);
        }
      }
      printTable(results.filter((r) => r.model === model && r.batch === batch));
    }

    // Per-layer breakdown (one image), alone on the machine. loadInstance steps every layer on the calling
    // thread, so it is run once per compiled folder, for single-thread variants only.
    const seen = new Set();
    const single = variants.filter((v) => !v.runtime && (/** @type {any} */ (v.loadOptions).threads ?? 1) === 1);
    for (const v of opts.engines.includes('vggc') ? (single.length ? single : variants.slice(0, 1)) : []) {
      if (seen.has(vggcDirs.get(v.label))) continue;
      seen.add(vggcDirs.get(v.label));
      console.log(`\nper-layer breakdown: ${model}, ${v.label}, 1 image, median of ${opts.layerRuns} (ceiling ${ceilingGflops} GFLOP/s = single-thread f32x4 4×8 register tile, measured above)`);
      const spec = { engine: 'layers', label: v.label, model, configPath, batch: 1, seed: opts.seed, warmup: Math.max(1, opts.warmup), dir: vggcDirs.get(v.label), loadOptions: v.loadOptions, runs: opts.layerRuns, nodeArgs: v.nodeArgs ?? [] };
      const child = new Child(spec);
      const msg = await child.next();
      if (msg.type !== 'layers') {
        note(`per-layer breakdown of ${model} (${v.label}) failed: ${String(msg.message ?? msg.reason ?? JSON.stringify(msg)).split('\n')[0]}`);
        await child.exited;
        continue;
      }
      for (const line of formatLayerRows(msg.rows, ceilingGflops)) console.log(`  ${line}`);
      layers[`${model} / ${v.label}`] = { model, variant: v.label, runs: opts.layerRuns, ceilingGflops, threads: msg.rows.threads, build: msg.rows.build, rows: msg.rows.rows, bytes: stepBytes(vggcDirs.get(v.label)), totalMs: msg.rows.rows.reduce((s, r) => s + r.ms, 0) };
      await child.exited;
    }
    console.log('');
  }

  console.log('all results (ratio = median ms / TensorFlow.js wasm median ms in the same run; < 1 is faster):');
  printTable(results);
  if (results.some((r) => r.kind.startsWith('ort-'))) console.log('ONNX Runtime rows use their own exported weights (torch init, same architecture): timing only, not compared numerically.');
  if (results.some((r) => r.kind.startsWith('tfjs-'))) console.log('TensorFlow.js load ms = backend init + weight upload; drawing the seeded weights and re-laying them out is prep ms (in latest.json).');

  machine.loadAverage = { start: load, end: os.loadavg()[0] };
  const report = { machine, options: opts, vggcVariants: variants, results, checks, layers, notes };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeAtomic(join(RESULTS_DIR, `${opts.out}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeAtomic(join(RESULTS_DIR, `${opts.out}.svg`), barChart(results, machine));
  const roofline = Object.values(layers).filter((l) => l.threads === 1);
  if (roofline.length) writeAtomic(join(RESULTS_DIR, `${opts.out}-roofline.svg`), rooflineSvg(roofline.map((l) => ({ label: `${l.model} ${l.variant}`, rows: l.rows, bytes: l.bytes })), { ceilingGflops, machine }));
  console.log(`\nwrote ${relative(process.cwd(), join(RESULTS_DIR, `${opts.out}.json`))}, ${relative(process.cwd(), join(RESULTS_DIR, `${opts.out}.svg`))}${roofline.length ? `, ${relative(process.cwd(), join(RESULTS_DIR, `${opts.out}-roofline.svg`))}` : ''}`);
  if (checks.some((c) => !c.ok)) {
    console.error('logits check FAILED (see above)');
    process.exitCode = 1;
  }
}

// ---------------------------------------------------------------- measuring

/** A worker process with a queue of its messages. */
class Child {
  constructor(spec) {
    this.spec = spec;
    /** @type {any[]} */
    this.queue = [];
    /** @type {((m: any) => void)[]} */
    this.waiting = [];
    // Another runtime runs the same worker script; JSON messages, because Bun cannot speak Node's
    // 'advanced' serialization and a newer V8's (Deno's) cannot be read by an older Node.
    const rt = spec.runtime ? runtime(spec.runtime) : null;
    const execArgv = [...(rt ? rt.run : []), ...(spec.nodeArgs ?? [])];
    this.proc = fork(join(BENCH_DIR, 'worker.mjs'), [JSON.stringify(spec)], { execPath: rt ? rt.bin : process.execPath, serialization: 'json', execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.proc.on('message', (m) => this.push(m));
    this.exited = new Promise((resolve) =>
      this.proc.on('exit', (code, signal) => {
        this.push({ type: 'error', message: `worker exited (code ${code}${signal ? `, signal ${signal}` : ''})` });
        resolve(code);
      }),
    );
  }
  push(m) {
    const w = this.waiting.shift();
    if (w) w(m);
    else this.queue.push(m);
  }
  /** @returns {Promise<any>} */
  next() {
    const m = this.queue.shift();
    return m ? Promise.resolve(m) : new Promise((resolve) => this.waiting.push(resolve));
  }
  async request(msg) {
    this.proc.send(msg);
    const reply = await this.next();
    if (reply.type === 'error') throw new Error(`${this.spec.label}: ${reply.message}`);
    return reply;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Loads every engine (one process each, one after another), then times them round by round.
 * @param {any[]} specs
 * @param {number} runs
 * @param {number} gapMs
 * @param {(spec: any, reason: string) => void} onUnavailable
 */
async function measure(specs, runs, gapMs, onUnavailable) {
  /** @type {any[]} */
  const live = [];
  if (specs.length) console.log(`${specs[0].model} batch ${specs[0].batch}: loading ${specs.map((s) => s.label).join(', ')}`);
  for (const spec of specs) {
    const child = new Child(spec);
    const m = await child.next();
    if (m.type === 'unavailable') {
      onUnavailable(spec, m.reason);
      await child.exited;
      continue;
    }
    if (m.type !== 'ready') throw new Error(`${spec.label} (${spec.model}, batch ${spec.batch}) failed to start: ${m.message}`);
    console.log(`  ${spec.label}: load ${fmt(m.loadMs)} ms${m.prepMs ? ` (+ prep ${fmt(m.prepMs)} ms)` : ''}, first inference ${fmt(m.firstMs)} ms`);
    live.push({ ...spec, child, times: [], loadMs: m.loadMs, prepMs: m.prepMs, firstMs: m.firstMs, logits: Float32Array.from(m.logits), notes: m.notes, engineVersion: m.engineVersion, maxRssMB: 0 });
  }
  for (let r = 0; r < runs; r++) {
    const order = live.map((_, i) => live[(i + r) % live.length]);
    for (const e of order) {
      if (e.maxRuns && e.times.length >= e.maxRuns) continue;
      await sleep(gapMs);
      const reply = await e.child.request({ type: 'run', count: 1 });
      e.times.push(...reply.times);
    }
    const line = `  round ${r + 1}/${runs}: ${live.map((e) => `${e.label} ${fmt(e.times[e.times.length - 1])}`).join(' | ')}`;
    process.stdout.write(process.stdout.isTTY ? `\r${line}   ` : `${line}\n`);
  }
  if (live.length && process.stdout.isTTY) process.stdout.write('\n');
  for (const e of live) {
    const bye = await e.child.request({ type: 'exit' });
    e.maxRssMB = bye.maxRssMB;
    await e.child.exited;
  }
  return live;
}

// ---------------------------------------------------------------- preparing models

function sha256(...parts) {
  const h = createHash('sha256');
  for (const p of parts) h.update(typeof p === 'string' ? p : p);
  return h.digest('hex');
}

function filesUnder(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath ?? /** @type {any} */ (d).path, d.name))
    .sort();
}

/** Hash of the built compiler + runtime + AssemblyScript sources: a cached model is reused only while it is unchanged. */
let toolHash = '';
function compilerHash() {
  if (!toolHash) {
    const h = createHash('sha256');
    for (const f of [...filesUnder(join(ROOT, 'dist')), ...filesUnder(join(ROOT, 'assembly'))]) {
      if (f.endsWith('.map') || f.endsWith('.d.ts')) continue;
      h.update(relative(ROOT, f));
      h.update(readFileSync(f));
    }
    toolHash = h.digest('hex');
  }
  return toolHash;
}

async function ensureVggc(model, configPath, seed, compileOptions) {
  const optKey = sha256(JSON.stringify(compileOptions)).slice(0, 8);
  const dir = join(CACHE_DIR, 'vggc', `${model}-seed${seed}-${optKey}`);
  const stampPath = `${dir}.stamp.json`;
  const key = sha256(readFileSync(configPath), String(seed), JSON.stringify(compileOptions), compilerHash());
  if (existsSync(join(dir, 'model.json')) && existsSync(stampPath) && JSON.parse(readFileSync(stampPath, 'utf8')).key === key) return dir;
  const { compileModel } = await importDist('compiler/pipeline.js');
  process.stdout.write(`compiling ${model} (seed ${seed}) → ${relative(ROOT, dir)} ...`);
  const t0 = performance.now();
  mkdirSync(join(CACHE_DIR, 'vggc'), { recursive: true });
  await compileModel({ configPath, outDir: dir, seed, ...compileOptions });
  console.log(` ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  writeFileSync(stampPath, JSON.stringify({ key, model, seed, compileOptions, date: new Date().toISOString() }));
  return dir;
}

function torchVersion() {
  if (!existsSync('/usr/bin/python3')) return null;
  const r = spawnSync('/usr/bin/python3', ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function ensureOnnx(model, configPath, seed, torch) {
  const script = join(BENCH_DIR, 'export_onnx.py');
  const path = join(CACHE_DIR, 'onnx', `${model}-seed${seed}.onnx`);
  const stampPath = `${path}.stamp.json`;
  const key = sha256(readFileSync(configPath), String(seed), readFileSync(script), readFileSync(join(ROOT, 'tools/torch_reference.py')), torch);
  if (existsSync(path) && existsSync(stampPath) && JSON.parse(readFileSync(stampPath, 'utf8')).key === key) return path;
  mkdirSync(join(CACHE_DIR, 'onnx'), { recursive: true });
  process.stdout.write(`exporting ${model} to ONNX with torch ${torch} → ${relative(ROOT, path)} ...`);
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/python3', [script, configPath, path, '--seed', String(seed)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ONNX export failed:\n${r.stderr}`);
  console.log(` ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  writeFileSync(stampPath, JSON.stringify({ key, model, seed, torch, date: new Date().toISOString() }));
  return path;
}

function warnIfDistStale(note) {
  let newest = 0;
  let newestFile = '';
  for (const f of [...filesUnder(join(ROOT, 'compiler')), ...filesUnder(join(ROOT, 'runtime'))]) {
    if (!f.endsWith('.ts')) continue;
    const built = join(ROOT, 'dist', relative(ROOT, f)).replace(/\.ts$/, '.js');
    const src = statSync(f).mtimeMs;
    if (!existsSync(built) || statSync(built).mtimeMs < src) {
      if (src > newest) [newest, newestFile] = [src, relative(ROOT, f)];
    }
  }
  if (newestFile) note(`dist/ is older than ${newestFile}: run \`npm run build\` to benchmark the current sources`);
}

// ---------------------------------------------------------------- reporting

/**
 * What the CPU can run, from /proc/cpuinfo (Linux; null elsewhere): a VM's model name is often just
 * "AMD EPYC", and whether native code gets AVX-512 decides how it compares with wasm's 128-bit SIMD.
 */
function cpuFeatures() {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const field = (/** @type {string} */ name) => info.match(new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm'))?.[1] ?? null;
    const flags = new Set((field('flags') ?? '').split(' '));
    return { family: field('cpu family'), model: field('model'), simd: ['sse4_2', 'avx2', 'fma', 'avx512f', 'avx512_bf16'].filter((f) => flags.has(f)) };
  } catch {
    return null;
  }
}

function machineInfo() {
  const cpus = os.cpus();
  const version = (pkg) => {
    const base = pkg === 'onnxruntime-node' && process.env.BENCH_ORT_NODE ? process.env.BENCH_ORT_NODE : ROOT;
    try {
      return JSON.parse(readFileSync(join(base, 'node_modules', pkg, 'package.json'), 'utf8')).version;
    } catch {
      return null;
    }
  };
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cpuFeatures: cpuFeatures(),
    cores: cpus.length,
    totalMemGB: Math.round(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    date: new Date().toISOString(),
    versions: {
      vggc: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version,
      '@tensorflow/tfjs-core': version('@tensorflow/tfjs-core'),
      '@tensorflow/tfjs-backend-wasm': version('@tensorflow/tfjs-backend-wasm'),
      '@tensorflow/tfjs-backend-cpu': version('@tensorflow/tfjs-backend-cpu'),
      'onnxruntime-web': version('onnxruntime-web'),
      'onnxruntime-node': version('onnxruntime-node'),
    },
  };
}

const fmt = (ms) => (ms === null || ms === undefined ? '–' : ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));

function printTable(rows) {
  const head = ['engine', 'model', 'batch', 'median ms', 'ms/image', 'vs tfjs-wasm', 'min–max ms', 'first ms', 'load ms', 'peak RSS MB', 'runs'];
  const body = rows.map((r) => [
    r.engine,
    r.model,
    String(r.batch),
    fmt(r.medianMs),
    fmt(r.msPerImage),
    r.ratioToTfjsWasm === null ? '–' : `${r.ratioToTfjsWasm.toFixed(2)}×`,
    `${fmt(r.minMs)}–${fmt(r.maxMs)}`,
    fmt(r.firstMs),
    fmt(r.loadMs),
    r.peakRssMB.toFixed(0),
    String(r.runs.length),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '─'.repeat(w)).join('  '));
  for (const b of body) console.log(line(b));
}

const xml = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Horizontal bars of median ms per engine for VGG-11 batch 1 (or the first model/batch measured). */
function barChart(results, machine) {
  const first = results.find((r) => r.model === 'vgg11' && r.batch === 1) ?? results[0];
  const pick = first ? { model: first.model, batch: first.batch, size: first.inputSize } : null;
  const rows = pick ? results.filter((r) => r.model === pick.model && r.batch === pick.batch).sort((x, y) => x.medianMs - y.medianMs) : [];
  const W = 760;
  const left = 190;
  const right = 150;
  const rowH = 30;
  const top = 64;
  const H = top + rows.length * rowH + 40;
  // TensorFlow.js cpu (~30× slower) would flatten every other bar: its bar is cut at the axis end.
  const scaled = rows.filter((r) => r.kind !== 'tfjs-cpu');
  const max = Math.max(1, ...(scaled.length ? scaled : rows).map((r) => r.medianMs));
  const scale = (W - left - right) / max;
  const colour = (kind) => (kind === 'vggc' ? '#2b7bb9' : kind.startsWith('tfjs') ? '#e8a33d' : '#7f8c8d');
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, sans-serif" font-size="13">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="16" y="24" font-size="16" font-weight="600">${xml(pick ? `${pick.model.toUpperCase().replace(/^VGG(\d+)$/, 'VGG-$1')} ${pick.size}, batch ${pick.batch}: median ms per inference (lower is better)` : 'no results')}</text>`,
    `<text x="16" y="44" fill="#555">${xml(`${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.date.slice(0, 10)}`)}</text>`,
  ];
  rows.forEach((r, i) => {
    const y = top + i * rowH;
    const cut = r.medianMs > max * 1.001;
    const w = Math.max(1, Math.min(r.medianMs, max) * scale);
    out.push(`<text x="${left - 8}" y="${y + 19}" text-anchor="end">${xml(r.engine)}</text>`);
    out.push(`<rect x="${left}" y="${y + 5}" width="${w.toFixed(1)}" height="${rowH - 10}" fill="${colour(r.kind)}"/>`);
    if (cut) out.push(`<path d="M${(left + w - 14).toFixed(1)} ${y + 3} l6 ${rowH - 6} M${(left + w - 7).toFixed(1)} ${y + 3} l6 ${rowH - 6}" stroke="#ffffff" stroke-width="3"/>`);
    out.push(`<text x="${(left + w + 6).toFixed(1)}" y="${y + 19}">${xml(`${fmt(r.medianMs)} ms${cut ? ' (bar cut)' : ''}`)}</text>`);
  });
  out.push(`<text x="16" y="${H - 14}" fill="#777" font-size="11">${xml('vggc bench: median of timed runs after warm-up, one process per engine; ONNX Runtime with its own exported weights')}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function inputSizeOf(configPath) {
  const [h, w] = JSON.parse(readFileSync(configPath, 'utf8')).inputSize;
  return `${h}×${w}`;
}

function writeAtomic(path, text) {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
