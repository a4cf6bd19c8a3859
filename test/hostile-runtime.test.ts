// Hostile use of the runtime: NaN input, dispose() while calls are queued, a worker of the thread
// pool that dies, and many load/infer/dispose cycles in one process (memory and threads released).
// Concurrent infer() calls are covered by test/runtime.test.ts.
//
// The two tests that need a clean process (memory growth, a worker dying in the middle of a step,
// which blocks the calling thread) run a small script from the built dist/ in a child process
// (`npx tsc -p tsconfig.json`; npm test builds first).
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadInstance, loadModel } from '../runtime/load/node.js';
import { WorkerPool } from '../runtime/threads/node-pool.js';
import { wrapInstance } from '../runtime/infer.js';
import { VggcError } from '../runtime/format/errors.js';
import { compileGolden, ROOT, tempDir } from './helpers.js';

const tmp = tempDir('vggc-hostile-rt-');
let dir: string;
const IMAGE = 37 * 45; // gray-odd: 1×37×45 → 5 classes

beforeAll(async () => {
  dir = await compileGolden('gray-odd', 'wasmsimd', tmp);
});

/** Settles `p` within `ms`, or reports that it hung. */
async function settleWithin<T>(p: Promise<T>, ms: number): Promise<{ value?: T; error?: unknown }> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hung for ${ms} ms`)), ms);
  });
  try {
    return { value: await Promise.race([p, hung]) };
  } catch (error) {
    if ((error as Error).message === `hung for ${ms} ms`) throw error;
    return { error };
  } finally {
    clearTimeout(timer);
  }
}

function expectOneLineVggcError(e: unknown): string {
  expect(e).toBeInstanceOf(VggcError);
  const msg = (e as Error).message;
  expect(msg).not.toMatch(/[\r\n]/);
  return msg;
}

describe('NaN input', () => {
  // Behaviour (measured, and what IEEE arithmetic in the kernels gives): a NaN anywhere in an image makes
  // every logit of that image NaN — it is not silently clamped away by ReLU or max-pool — while the other
  // images of the same batch are unaffected, and the next call on clean input is exact again (the NaN
  // does not stay in the arena's zero frame or in the weights).
  for (const threads of [1, 2]) {
    it(`propagates to that image's logits only (threads: ${threads})`, async () => {
      const model = await loadModel(dir, { threads, build: 'deterministic' });
      try {
        const clean = new Float32Array(IMAGE).fill(0.5);
        const y0 = await model.infer(clean);
        expect(y0.every(Number.isFinite)).toBe(true);

        const onePixel = clean.slice();
        onePixel[100] = Number.NaN;
        const y1 = await model.infer(onePixel);
        expect(y1).toBeInstanceOf(Float32Array);
        expect(y1.length).toBe(5);
        expect(Array.from(y1).every(Number.isNaN)).toBe(true);

        expect(Array.from(await model.infer(new Float32Array(IMAGE).fill(Number.NaN))).every(Number.isNaN)).toBe(true);

        const batch = new Float32Array(3 * IMAGE).fill(0.5);
        batch[IMAGE + 7] = Number.NaN; // image 1 only
        const yb = await model.infer(batch, 3);
        expect(Array.from(yb.subarray(0, 5))).toEqual(Array.from(y0));
        expect(Array.from(yb.subarray(5, 10)).every(Number.isNaN)).toBe(true);
        expect(Array.from(yb.subarray(10, 15))).toEqual(Array.from(y0));

        // Nothing poisoned: clean input gives exactly the first result again.
        expect(Array.from(await model.infer(clean))).toEqual(Array.from(y0));
      } finally {
        model.dispose();
      }
    });
  }
});

describe('dispose() while calls are queued', () => {
  for (const threads of [1, 2]) {
    it(`every pending call resolves or rejects with a one-line VggcError, none hangs (threads: ${threads})`, async () => {
      const model = await loadModel(dir, { threads, build: 'deterministic' });
      const x = new Float32Array(8 * IMAGE).fill(0.25);
      const expected = await model.infer(x.subarray(0, IMAGE));
      const pending = [model.infer(x, 8), model.infer(x.subarray(0, IMAGE)), model.infer(x, 8), model.infer(x.subarray(0, IMAGE))];
      model.dispose();
      const late = model.infer(x.subarray(0, IMAGE));
      model.dispose(); // twice is harmless
      for (const p of [...pending, late]) {
        const r = await settleWithin(p, 5000);
        if (r.error !== undefined) expect(expectOneLineVggcError(r.error)).toBe(`${dir}: infer() called after dispose()`);
        else expect(Array.from((r.value as Float32Array).subarray(0, 5))).toEqual(Array.from(expected));
      }
      expect(expectOneLineVggcError((await settleWithin(late, 1000)).error)).toBe(`${dir}: infer() called after dispose()`);
    });

    it(`dispose() from inside a pending call's continuation does not hang the calls after it (threads: ${threads})`, async () => {
      const model = await loadModel(dir, { threads, build: 'deterministic' });
      const x = new Float32Array(IMAGE).fill(0.25);
      const first = model.infer(x).then((y) => (model.dispose(), y));
      const rest = [model.infer(x), model.infer(x), model.infer(x, 1)];
      expect((await settleWithin(first, 5000)).value).toBeInstanceOf(Float32Array);
      for (const p of rest) {
        const r = await settleWithin(p, 5000);
        if (r.error !== undefined) expectOneLineVggcError(r.error);
        else expect(r.value).toBeInstanceOf(Float32Array);
      }
    });
  }
});

describe('a worker of the pool that dies', () => {
  it('between steps: the next step throws a one-line VggcError at once', async () => {
    const inst = await loadInstance(dir, { build: 'deterministic' });
    const pool = await WorkerPool.start(inst.module, inst.memory, inst.steps.map((s) => s.info.function), 2);
    try {
      const step = inst.steps[1];
      const run = () => pool.run(1, { items: step.workItems, grain: step.workGrain, steal: true }, (a, b) => step.fn(a, b, 0));
      await run(); // healthy (a loaded machine may return the waiting promise: it must settle here, not reject later unhandled)
      await (pool as unknown as { workers: { terminate(): Promise<number> }[] }).workers[0].terminate();
      await new Promise((r) => setImmediate(r)); // let the 'exit' event be delivered
      const t = performance.now();
      let err: unknown;
      try {
        run();
      } catch (e) {
        err = e;
      }
      expect(performance.now() - t).toBeLessThan(1000);
      expect(expectOneLineVggcError(err)).toMatch(/^the thread pool is broken: worker 1 exited \(code \d+\)$/);
      // And it stays broken rather than hanging on the next call.
      expect(() => run()).toThrow(VggcError);
    } finally {
      await pool.terminate();
    }
  });

  it('the main thread\'s own share throwing breaks the pool: no later step is posted over helpers still in that one', async () => {
    const inst = await loadInstance(dir, { build: 'deterministic' });
    const pool = await WorkerPool.start(inst.module, inst.memory, inst.steps.map((s) => s.info.function), 2);
    try {
      const step = inst.steps[1];
      const work = { items: step.workItems, grain: step.workGrain, steal: true };
      expect(() => pool.run(1, work, () => { throw new Error('trap'); })).toThrow(/^trap$/);
      let err: unknown;
      try {
        await pool.run(1, work, (a, b) => step.fn(a, b, 0));
      } catch (e) {
        err = e;
      }
      expect(expectOneLineVggcError(err)).toBe('the thread pool is broken: step 1 failed on the main thread: trap');
    } finally {
      await pool.terminate();
    }
  });

  it('between steps, seen through a loaded model: infer() rejects with a one-line VggcError', async () => {
    // loadModel keeps its pool in a closure: build the same model from loadInstance + WorkerPool.
    const inst = await loadInstance(dir, { build: 'deterministic' });
    const pool = await WorkerPool.start(inst.module, inst.memory, inst.steps.map((s) => s.info.function), 2);
    const m2 = wrapInstance(inst, dir, pool);
    await m2.infer(new Float32Array(IMAGE));
    await (pool as unknown as { workers: { terminate(): Promise<number> }[] }).workers[0].terminate();
    await new Promise((r) => setImmediate(r));
    const r = await settleWithin(m2.infer(new Float32Array(IMAGE)), 5000);
    expect(expectOneLineVggcError(r.error)).toMatch(/^the thread pool is broken: worker 1 exited/);
    m2.dispose();
  });

  // The pool waits for its workers with Atomics.waitAsync once its short poll is over, so a worker's
  // 'exit' event is delivered and fails the step at once (no 120 s hang with the event loop frozen).
  it('a worker that dies while a step is running makes that step throw a one-line VggcError within seconds', () => {
    const script = join(tmp, 'worker-dies-mid-step.mjs');
    writeFileSync(
      script,
      `import { loadInstance } from ${JSON.stringify(join(ROOT, 'dist/runtime/load/node.js'))};
import { WorkerPool } from ${JSON.stringify(join(ROOT, 'dist/runtime/threads/node-pool.js'))};
const inst = await loadInstance(process.argv[2], { build: 'deterministic' });
const pool = await WorkerPool.start(inst.module, inst.memory, inst.steps.map((s) => s.info.function), 2);
const step = inst.steps[1];
pool.workers[0].terminate();
try { await pool.run(1, { items: step.workItems, grain: step.workGrain, steal: true }, (a, b) => step.fn(a, b, 0)); console.log('no error'); }
catch (e) { console.log(e.constructor.name + ' ' + e.message); }
process.exit(0);
`,
    );
    expect(existsSync(join(ROOT, 'dist/runtime/threads/node-pool.js'))).toBe(true);
    const r = spawnSync(process.execPath, [script, dir], { encoding: 'utf8', timeout: 10_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^VggcError the thread pool is broken: worker 1 (exited|crashed)/);
  });
});

describe('20 load + infer + dispose cycles in one process (threads: 2)', () => {
  it('release their memory and their worker threads', () => {
    const script = join(tmp, 'cycles.mjs');
    writeFileSync(
      script,
      `import { readdirSync } from 'node:fs';
import { loadModel } from ${JSON.stringify(join(ROOT, 'dist/runtime/load/node.js'))};
const dir = process.argv[2];
const tasks = () => readdirSync('/proc/self/task').length;
const settle = async () => { for (let i = 0; i < 5; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); } };
async function cycle() {
  const m = await loadModel(dir, { threads: 2, build: 'deterministic' });
  const y = await m.infer(new Float32Array(${IMAGE}).fill(0.5));
  if (y.length !== 5) throw new Error('bad logits');
  m.dispose();
}
await cycle(); await cycle();
await settle();
const before = { rss: process.memoryUsage().rss, external: process.memoryUsage().external, tasks: tasks() };
for (let i = 0; i < 20; i++) await cycle();
await settle();
const after = { rss: process.memoryUsage().rss, external: process.memoryUsage().external, tasks: tasks() };
console.log(JSON.stringify({ before, after }));
`,
    );
    const r = spawnSync(process.execPath, ['--expose-gc', script, dir], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const { before, after } = JSON.parse(r.stdout.trim().split('\n').pop()!);
    const MB = 2 ** 20;
    if (process.env.VGGC_FUZZ_STATS) console.log({ before, after });
    // Each cycle maps a 6-page shared wasm memory and starts one worker (≈ 10 MB of thread + isolate).
    expect((after.rss - before.rss) / MB, r.stdout).toBeLessThan(50);
    expect((after.external - before.external) / MB).toBeLessThan(10);
    // Every worker thread of the 20 pools has ended (dispose terminates the pool).
    expect(after.tasks).toBeLessThanOrEqual(before.tasks);
  }, 150_000);
});
