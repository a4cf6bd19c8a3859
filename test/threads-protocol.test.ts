/**
 * The work-sharing protocol of runtime/threads/protocol.ts, without a model: every item of a step is
 * run exactly once whoever claims it, claims respect the step's grains, and a thread that is held up
 * has the end of its range taken over by the others. The model-level checks (2 threads give 1 thread's
 * bits) are in bit-identity.test.ts and the browser tests.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { claimChunk, claimWork, CONTROL, controlInts, postStep, rangeWords, shareStep } from '../runtime/threads/protocol.js';

function controlBlock(threads: number): { control: Int32Array; ranges: BigInt64Array } {
  const control = new Int32Array(new SharedArrayBuffer(controlInts(threads) * 4));
  return { control, ranges: rangeWords(control) };
}

/** Threads claim one chunk each in turn (a deterministic interleaving) until nothing is left. */
function roundRobin(threads: number, items: number, grain: number): { owner: number[]; claims: [number, number, number][] } {
  const { control, ranges } = controlBlock(threads);
  postStep(control, ranges, 0, { items, grain, steal: true });
  const chunk = control[CONTROL.CHUNK];
  const owner = new Array<number>(items).fill(-1);
  const claims: [number, number, number][] = [];
  const claimed = new Int32Array(2);
  // Thread 1 … threads−1 start late (thread 0 runs three claims alone first): they find part of their
  // range stolen.
  for (let turn = 0, idle = 0; idle < threads; turn++) {
    const me = turn < 3 ? 0 : turn % threads;
    if (!claimWork(ranges, me, chunk, true, claimed)) {
      idle++;
      continue;
    }
    idle = 0;
    claims.push([me, claimed[0], claimed[1]]);
    for (let i = claimed[0]; i < claimed[1]; i++) {
      expect(owner[i], `item ${i} claimed twice`).toBe(-1);
      owner[i] = me;
    }
  }
  return { owner, claims };
}

describe('work sharing: claims', () => {
  it('claimChunk is a whole number of grains, CLAIMS_PER_THREAD to twice that many claims per thread', () => {
    expect(claimChunk(512, 1, 2)).toBe(32);
    expect(claimChunk(40, 4, 2)).toBe(4);
    expect(claimChunk(4, 4, 2)).toBe(4);
    expect(claimChunk(7, 1, 4)).toBe(1);
    for (const grain of [1, 3, 4]) for (const items of [1, 5, 40, 1000]) expect(claimChunk(items, grain, 2) % grain).toBe(0);
  });

  it('every item runs exactly once, for any thread count, size and grain, even when threads start late', () => {
    let stolen = 0;
    for (const threads of [1, 2, 3, 4]) {
      for (const grain of [1, 2, 4]) {
        for (let items = 1; items <= 70; items++) {
          const { owner, claims } = roundRobin(threads, items, grain);
          expect(owner.every((w) => w >= 0), `${threads} threads, ${items} items, grain ${grain}`).toBe(true);
          const chunk = claimChunk(items, grain, threads);
          const split = (w: number): number => Math.floor((items * w) / threads);
          for (const [, start, end] of claims) {
            // A claim stays inside one chunk and one thread's initial range.
            expect(Math.floor(start / chunk)).toBe(Math.floor((end - 1) / chunk));
            const w = [...Array(threads).keys()].find((t) => start >= split(t) && start < split(t + 1))!;
            expect(end).toBeLessThanOrEqual(split(w + 1));
          }
          stolen += claims.filter(([me, start]) => !(start >= split(me) && start < split(me + 1))).length;
        }
      }
    }
    expect(stolen, 'the late threads found none of their work taken').toBeGreaterThan(0);
  });

  it('on its own, a thread claims its range front to back, then the others\' back to front', () => {
    const { control, ranges } = controlBlock(2);
    postStep(control, ranges, 0, { items: 20, grain: 4, steal: true });
    const calls: [number, number][] = [];
    shareStep(control, ranges, 0, (s, e) => calls.push([s, e]));
    // Thread 0's even share [0, 10) in whole grains (the split cuts the third), then thread 1's from the back.
    expect(calls).toEqual([[0, 4], [4, 8], [8, 10], [16, 20], [12, 16], [10, 12]]);
  });

  it('without stealing (the warm-up), a thread runs its own range only', () => {
    const { control, ranges } = controlBlock(2);
    postStep(control, ranges, 0, { items: 2, grain: 1, steal: false });
    const calls: [number, number][] = [];
    shareStep(control, ranges, 0, (s, e) => calls.push([s, e]));
    expect(calls).toEqual([[0, 1]]);
    shareStep(control, ranges, 1, (s, e) => calls.push([s, e]));
    expect(calls).toEqual([[0, 1], [1, 2]]);
  });
});

/** A helper on a real worker thread running `helperLoop` on a JS step that records who ran each item. */
const helperSource = (protocolUrl: string): string => `
  const BY_HELPER = ${BY_HELPER};
  const { workerData, parentPort } = require('node:worker_threads');
  import(${JSON.stringify(protocolUrl)}).then(({ helperLoop }) => {
    const { control, worker, owner, delayMs } = workerData;
    const seen = new Int32Array(owner);
    const step = (start, end, w) => {
      for (let i = start; i < end; i++) {
        const until = performance.now() + delayMs;
        while (performance.now() < until);
        Atomics.add(seen, i, BY_HELPER);
      }
    };
    helperLoop(control, worker, [step], () => parentPort.postMessage('ready'), (e) => parentPort.postMessage('error ' + e));
  });
`;
/** What the helper adds to an item it runs (the main thread adds 1): any sum but 1 or this is an item run twice. */
const BY_HELPER = 16;

describe('work sharing: real threads', () => {
  it('a held-up helper has the end of its range run by the main thread; every item once', async () => {
    const protocolUrl = new URL('../dist/runtime/threads/protocol.js', import.meta.url).href;
    expect(existsSync(fileURLToPath(protocolUrl)), 'npm test builds dist/ first').toBe(true);
    const threads = 2;
    const items = 64;
    const { control, ranges } = controlBlock(threads);
    const owner = new SharedArrayBuffer(items * 4);
    // The helper takes 2 ms an item, the main thread nothing: static halves would leave main idle.
    const worker = new Worker(helperSource(protocolUrl), { eval: true, workerData: { control, worker: 1, owner, delayMs: 2 } });
    try {
      await new Promise<void>((resolve, reject) => {
        worker.once('message', (m) => (m === 'ready' ? resolve() : reject(new Error(String(m)))));
        worker.once('error', reject);
      });
      const seen = new Int32Array(owner);
      postStep(control, ranges, 0, { items, grain: 1, steal: true });
      shareStep(control, ranges, 0, (s, e) => {
        for (let i = s; i < e; i++) Atomics.add(seen, i, 1);
      });
      while (Atomics.load(control, CONTROL.PENDING) !== 0) Atomics.wait(control, CONTROL.PENDING, 1, 50);
      expect(Atomics.load(control, CONTROL.ERROR)).toBe(0);
      const runBy = [...seen];
      expect(runBy.every((w) => w === 1 || w === BY_HELPER), `items run twice or never: ${runBy.join(',')}`).toBe(true);
      const byMain = runBy.filter((w) => w === 1).length;
      expect(byMain, 'the main thread ran no more than its half').toBeGreaterThan(items / 2);
    } finally {
      await worker.terminate();
    }
  });
});
