// @ts-check
/**
 * A/B of two compiled folders, step by step, in one process: the tool behind every "per-layer
 * minimum" in docs/performance.md. Both models are loaded side by side; each round runs one
 * inference of A and one of B (the order alternating), every step timed inside it. On a shared,
 * noisy machine the minimum over the rounds is the figure that compares (an unchanged step should
 * come out at 1.00); medians are printed beside it. Also prints how far B's logits are from A's.
 *
 *   npm run build && node tools/runtimes/exec.mjs node24 bench/ab.mjs A_DIR B_DIR [--threads 1] [--rounds 15]
 */
import { parseArgs } from 'node:util';
import { loadForSteps, timeSteps } from './common.mjs';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { threads: { type: 'string', default: '1' }, rounds: { type: 'string', default: '15' }, warmup: { type: 'string', default: '2' } } });
if (positionals.length !== 2) {
  console.error('usage: node bench/ab.mjs A_DIR B_DIR [--threads N] [--rounds N] [--warmup N]');
  process.exit(2);
}
const threads = Number(values.threads);
const rounds = Number(values.rounds);
const warmupRounds = Number(values.warmup);

/** @param {string} dir */
async function open(dir) {
  const { inst, runners, resetInput, close } = await loadForSteps(dir, threads);
  /** @type {number[][]} */
  const per = runners.map(() => []);
  /** @type {number[]} */
  const totals = [];
  const logits = inst.manifest.outputs.find((/** @type {any} */ o) => o.name === 'logits') ?? inst.manifest.outputs.at(-1);
  return {
    dir,
    names: inst.steps.map((/** @type {any} */ s) => s.info.description),
    kernels: inst.steps.map((/** @type {any} */ s) => s.info.kernel),
    per,
    totals,
    logits: () => Float32Array.from(new Float32Array(inst.memory.buffer, logits.tensor.offset, logits.tensor.imageStride)),
    /** @param {boolean} record */
    async round(record) {
      resetInput();
      const { steps, total } = await timeSteps(runners);
      if (!record) return;
      steps.forEach((ms, i) => per[i].push(ms));
      totals.push(total);
    },
    close,
  };
}

const a = await open(positionals[0]);
const b = await open(positionals[1]);
for (let r = 0; r < warmupRounds + rounds; r++) {
  const [first, second] = r % 2 ? [b, a] : [a, b];
  await first.round(r >= warmupRounds);
  await second.round(r >= warmupRounds);
}
const min = (/** @type {number[]} */ xs) => Math.min(...xs);
const median = (/** @type {number[]} */ xs) => [...xs].sort((p, q) => p - q)[xs.length >> 1];
const la = a.logits(), lb = b.logits();
let maxY = 0, maxD = 0;
for (let i = 0; i < la.length; i++) {
  maxY = Math.max(maxY, Math.abs(la[i]));
  maxD = Math.max(maxD, Math.abs(la[i] - (lb[i] ?? NaN)));
}
console.log(`A = ${a.dir}, B = ${b.dir}: ${rounds} rounds after ${warmupRounds}, ${threads} thread(s); min / median ms`);
console.log('| step | A | B | B / A (min) |');
console.log('| --- | --- | --- | --- |');
// Steps are matched by the layer they run (the description's first word: conv2_1, pool5, fc1), so that
// builds that split a step in two (a pool taken off a conv) still line up.
/** @param {typeof a} m */
const keysOf = (m) => m.names.map((/** @type {string} */ n, /** @type {number} */ i) => (i === 0 ? 'input' : n.split(' ')[0].replace(/:$/, '')));
const keysA = keysOf(a), keysB = keysOf(b);
// A's layers in order, with each layer only B has inserted after the one B runs before it.
const layers = [...keysA];
keysB.forEach((key, i) => {
  if (!layers.includes(key)) layers.splice(i === 0 ? 0 : layers.indexOf(keysB[i - 1]) + 1, 0, key);
});
const stepsOf = (/** @type {string[]} */ keys, /** @type {string} */ key) => keys.flatMap((k, i) => (k === key ? [i] : []));
for (const key of layers) {
  const ia = stepsOf(keysA, key), ib = stepsOf(keysB, key);
  const label = (ia.length ? ia : ib).map((/** @type {number} */ i) => (ia.length ? a : b).names[i]).join(' / ');
  const kernels = (/** @type {typeof a} */ m, /** @type {number[]} */ is) => is.map((i) => m.kernels[i]).join(' + ');
  const changed = kernels(a, ia) !== kernels(b, ib);
  const cell = (/** @type {number[] | undefined} */ xs) => (xs ? `${min(xs).toFixed(2)} / ${median(xs).toFixed(2)}` : '–');
  // A layer run as several steps: the per-round sum of its steps.
  const summed = (/** @type {typeof a} */ m, /** @type {number[]} */ is) => (is.length ? m.per[is[0]].map((/** @type {number} */ _, /** @type {number} */ r) => is.reduce((t, i) => t + m.per[i][r], 0)) : undefined);
  const ta = summed(a, ia), tb = summed(b, ib);
  const ratio = ta && tb ? (min(tb) / min(ta)).toFixed(2) : '–';
  console.log(`| ${key}: ${label}${changed ? ` (${kernels(a, ia) || '–'} → ${kernels(b, ib) || '–'})` : ''} | ${cell(ta)} | ${cell(tb)} | ${ratio} |`);
}
console.log(`| whole inference | ${min(a.totals).toFixed(1)} / ${median(a.totals).toFixed(1)} | ${min(b.totals).toFixed(1)} / ${median(b.totals).toFixed(1)} | ${(min(b.totals) / min(a.totals)).toFixed(3)} |`);
console.log(`logits: max |B − A| = ${maxD.toExponential(2)} (${(maxD / maxY).toExponential(2)} · max |A|)${maxD === 0 ? ', bit for bit' : ''}`);
await a.close();
await b.close();
