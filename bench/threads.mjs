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
import { loadForSteps, timeSteps } from './common.mjs';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { threads: { type: 'string', default: '2' }, rounds: { type: 'string', default: '25' } } });
const dir = positionals[0] ?? 'build/vgg11';
const rounds = Number(values.rounds);

/** @param {number} threads */
async function measure(threads) {
  const { inst, runners, resetInput, close } = await loadForSteps(dir, threads);
  /** @type {number[][]} */
  const per = runners.map(() => []);
  const totals = [];
  for (let r = 0; r < rounds; r++) {
    resetInput();
    const { steps, total } = await timeSteps(runners);
    steps.forEach((ms, i) => per[i].push(ms));
    totals.push(total);
  }
  await close();
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
