// @ts-check
/**
 * How noisy is this machine, and is the noise per core or shared? Two worker_threads run the same
 * fixed piece of work over and over for a few seconds, one loop that stays in L1 and one that streams a
 * 64 MB buffer (a read per cache line), and record how long each piece took. Prints, per loop, the
 * 50th/90th/99th percentile of a piece's time over its median, and how often both threads were slow
 * (> 1.3× their median) in the same 10 ms window against how often that would happen if their slow
 * moments were independent. Noise shared by both cores (memory, a host's other tenants) hurts two
 * threads as much as one; noise on one core at a time is what work sharing between threads absorbs
 * (runtime/threads/protocol.ts, docs/performance.md "Threads").
 *
 *   node bench/noise.mjs [--seconds 8]
 */
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { parseArgs } from 'node:util';

const WINDOW_MS = 10;
const SLOW = 1.3;

if (isMainThread) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '8' } } });
  const seconds = Number(values.seconds);
  for (const kind of /** @type {const} */ (['l1', 'memory'])) {
    const runs = await Promise.all(
      [0, 1].map(
        (id) =>
          /** @type {Promise<[number, number][]>} */ (
            new Promise((resolve, reject) => {
              const w = new Worker(new URL(import.meta.url), { workerData: { id, kind, seconds } });
              w.once('message', resolve);
              w.once('error', reject);
            })
          ),
      ),
    );
    report(kind, runs);
  }
} else {
  const { kind, seconds } = workerData;
  const data = new Float64Array(kind === 'l1' ? 1 << 12 : 1 << 23);
  /** @type {[number, number][]} */
  const pieces = [];
  const end = performance.now() + seconds * 1000;
  let sink = 0;
  while (performance.now() < end) {
    const start = performance.now();
    if (kind === 'l1') {
      for (let r = 0; r < 60; r++) for (let i = 0; i < data.length; i++) sink += data[i] * 1.0001 + r;
    } else {
      for (let i = 0; i < data.length; i += 8) sink += data[i];
    }
    pieces.push([start, performance.now() - start]);
  }
  if (sink === 42) console.log(''); // keep the loops from being optimised away
  parentPort?.postMessage(pieces);
}

/**
 * @param {string} kind
 * @param {[number, number][][]} runs [start ms, duration ms] per piece, per thread
 */
function report(kind, runs) {
  const sorted = (/** @type {number[]} */ xs) => [...xs].sort((a, b) => a - b);
  const at = (/** @type {number[]} */ xs, /** @type {number} */ q) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))];
  /** @type {Set<number>[]} */
  const slowWindows = [];
  /** @type {Set<number>} */
  const windows = new Set();
  runs.forEach((pieces, t) => {
    const times = sorted(pieces.map(([, d]) => d));
    const median = at(times, 0.5);
    console.log(`${kind.padEnd(6)} thread ${t}: ${pieces.length} pieces of ${median.toFixed(3)} ms; p50 / p90 / p99 over the median ${[0.5, 0.9, 0.99].map((q) => (at(times, q) / median).toFixed(2)).join(' / ')}`);
    const slow = new Set();
    for (const [start, d] of pieces) {
      const w = Math.floor(start / WINDOW_MS);
      windows.add(w);
      if (d > SLOW * median) slow.add(w);
    }
    slowWindows.push(slow);
  });
  const n = windows.size;
  const both = [...slowWindows[0]].filter((w) => slowWindows[1].has(w)).length;
  const independent = (slowWindows[0].size * slowWindows[1].size) / n;
  console.log(`${kind.padEnd(6)} ${n} windows of ${WINDOW_MS} ms: slow on thread 0 in ${slowWindows[0].size}, on thread 1 in ${slowWindows[1].size}, on both in ${both} (${independent.toFixed(0)} if independent)`);
}
