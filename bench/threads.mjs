// @ts-check
/**
 * Where threads pay and where they do not: VGG-11 (or any compiled folder) run as real inferences,
 * every step timed in sequence inside each one, on 1 and on N threads. Compares the whole inference
 * with the sum of its steps (the gap is what the barriers and the hand-offs between steps cost) and
 * prints each step's speed-up. Minima and medians over the rounds.
 *
 *   npm run build && node tools/runtimes/exec.mjs node24 bench/threads.mjs [build/vgg11] [--threads 2] [--rounds 25]
 */
import { parseArgs } from 'node:util';
import { benchInput, importDist } from './common.mjs';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { threads: { type: 'string', default: '2' }, rounds: { type: 'string', default: '25' } } });
const dir = positionals[0] ?? 'build/vgg11';
const rounds = Number(values.rounds);
const { loadInstance } = await importDist('runtime/load/node.js');
const { stepRunners, warmUp } = await importDist('runtime/steps.js');
const { WorkerPool } = await importDist('runtime/threads/node-pool.js');
const { runParams } = await importDist('runtime/instance.js');

/** @param {number} threads */
async function measure(threads) {
  const inst = await loadInstance(dir, {});
  const pool = threads > 1 ? await WorkerPool.start(inst.module, inst.memory, inst.steps.map((/** @type {any} */ s) => s.info.function), threads) : undefined;
  await warmUp(inst, pool);
  const runners = stepRunners(inst, pool);
  const [c, h, w] = inst.manifest.input.shape;
  const input = benchInput(1, c, h, w);
  const inputView = new Float32Array(inst.memory.buffer, inst.manifest.input.offset, c * h * w);
  const params = runParams(inst.memory, inst.manifest);
  /** @type {number[][]} */
  const per = runners.map(() => []);
  const totals = [];
  for (let r = 0; r < rounds; r++) {
    // As infer() does: the planner reuses the input's memory once it has been read.
    inputView.set(input);
    params.image(0);
    params.images(1);
    const t0 = performance.now();
    let t = t0;
    for (let i = 0; i < runners.length; i++) {
      const waiting = runners[i]();
      if (waiting) await waiting;
      const now = performance.now();
      per[i].push(now - t);
      t = now;
    }
    totals.push(t - t0);
  }
  await pool?.terminate();
  return { names: inst.steps.map((/** @type {any} */ s) => s.info.description), per, totals };
}

const min = (/** @type {number[]} */ xs) => Math.min(...xs);
const median = (/** @type {number[]} */ xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const sum = (/** @type {number[]} */ xs) => xs.reduce((a, b) => a + b, 0);
const threads = Number(values.threads);
const one = await measure(1);
const many = await measure(threads);
console.log(`${dir}: ${rounds} inferences per thread count; min / median ms`);
console.log(`| step | 1 thread | ${threads} threads | speed-up (min) |`);
console.log('| --- | --- | --- | --- |');
one.names.forEach((/** @type {string} */ name, /** @type {number} */ i) => {
  console.log(`| ${name} | ${min(one.per[i]).toFixed(2)} / ${median(one.per[i]).toFixed(2)} | ${min(many.per[i]).toFixed(2)} / ${median(many.per[i]).toFixed(2)} | ${(min(one.per[i]) / min(many.per[i])).toFixed(2)}× |`);
});
for (const [label, m] of /** @type {const} */ ([['1 thread', one], [`${threads} threads`, many]])) {
  console.log(`${label}: whole inference ${min(m.totals).toFixed(1)} / ${median(m.totals).toFixed(1)} ms; sum of the steps' minima ${sum(m.per.map(min)).toFixed(1)} ms`);
}
