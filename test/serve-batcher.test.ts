/** The dynamic batcher against an engine the test controls: batch sizes, the window, limits, drain. */
import { describe, expect, it } from 'vitest';
import { Batcher, IN_FLIGHT, type BatcherLimits } from '../runtime/server/batcher.js';
import type { Engine, EngineResult } from '../runtime/server/engine.js';
import { HttpError } from '../runtime/server/http-error.js';
import type { Outputs } from '../runtime/server/outputs.js';

const FLOATS = 2; // per image

/** Echoes its input as `out`; records each batch's size; `hold` makes runs wait for release(). */
function fakeEngine({ hold = false, failFirst = false } = {}) {
  const batches: number[] = [];
  const releases: (() => void)[] = [];
  let failed = !failFirst;
  const engine: Engine = {
    manifest: { name: 'fake' } as Engine['manifest'],
    outputs: [{ name: 'out', shape: [FLOATS], layout: 'features' }],
    ready: true,
    async run(x: Float32Array, n: number): Promise<EngineResult> {
      batches.push(n);
      if (hold) await new Promise<void>((resolve) => releases.push(resolve));
      if (!failed) {
        failed = true;
        throw new Error('engine failed');
      }
      const outputs: Outputs = { out: { data: x.slice(), shape: [n, FLOATS] } };
      return { outputs, seconds: 0.001 };
    },
    close: async () => {},
  };
  return { engine, batches, release: () => releases.shift()?.(), running: () => releases.length };
}

const limits = (l: Partial<BatcherLimits> = {}): BatcherLimits => ({ maxBatch: 4, windowMs: 50, maxQueue: 100, queueTimeoutMs: 0, ...l });
const noEvents = { queueDepth: () => {}, batch: () => {}, waited: () => {} };
const images = (n: number, first: number) => Float32Array.from({ length: n * FLOATS }, (_, i) => first * FLOATS + i);
const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

async function statusOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 200;
  } catch (e) {
    expect(e).toBeInstanceOf(HttpError);
    return (e as HttpError).status;
  }
}

describe('Batcher', () => {
  it('cuts 10 waiting images into batches of maxBatch, and each request gets its own rows back', async () => {
    const f = fakeEngine();
    const b = new Batcher(f.engine, limits(), 'fake', noEvents);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => b.submit(images(1, i), 1)));
    expect(f.batches).toEqual([4, 4, 2]);
    results.forEach((r, i) => {
      expect(r.out.shape).toEqual([1, FLOATS]);
      expect(Array.from(r.out.data)).toEqual(Array.from(images(1, i)));
    });
  });

  it('a lone request waits for the window, then runs', async () => {
    const f = fakeEngine();
    const b = new Batcher(f.engine, limits({ windowMs: 40 }), 'fake', noEvents);
    const t0 = performance.now();
    await b.submit(images(1, 0), 1);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(38);
    expect(f.batches).toEqual([1]);
  });

  it('never splits a request: one larger than maxBatch runs alone, in arrival order', async () => {
    const f = fakeEngine();
    const b = new Batcher(f.engine, limits(), 'fake', noEvents);
    const [a, big, c] = await Promise.all([b.submit(images(1, 0), 1), b.submit(images(6, 1), 6), b.submit(images(1, 7), 1)]);
    expect(f.batches).toEqual([1, 6, 1]);
    expect(Array.from(big.out.data)).toEqual(Array.from(images(6, 1)));
    expect([a.out.data[0], c.out.data[0]]).toEqual([0, 7 * FLOATS]);
  });

  it(`${IN_FLIGHT} batches go to the engine at once; requests arriving meanwhile form the next batch`, async () => {
    expect(IN_FLIGHT).toBe(2);
    const f = fakeEngine({ hold: true });
    const b = new Batcher(f.engine, limits({ windowMs: 0, maxBatch: 8 }), 'fake', noEvents);
    const first = [b.submit(images(1, 0), 1), b.submit(images(1, 1), 1)];
    await tick();
    const rest = [2, 3, 4].map((i) => b.submit(images(1, i), 1));
    await tick(5);
    expect(f.batches).toEqual([1, 1]);
    expect(b.depth).toBe(3);
    f.release();
    await first[0];
    await tick();
    expect(f.batches).toEqual([1, 1, 3]);
    f.release();
    f.release();
    const answers = await Promise.all([...first, ...rest]);
    expect(answers.map((a) => a.out.data[0])).toEqual([0, 1, 2, 3, 4].map((i) => i * FLOATS));
  });

  it('a full queue is refused with 503 and a Retry-After of at least one second', async () => {
    const f = fakeEngine({ hold: true });
    const b = new Batcher(f.engine, limits({ windowMs: 0, maxQueue: 2, maxBatch: 1 }), 'fake', noEvents);
    const running = [b.submit(images(1, 0), 1), b.submit(images(1, 9), 1)];
    await tick();
    const queued = [b.submit(images(1, 1), 1), b.submit(images(1, 2), 1)];
    let refused: unknown;
    try {
      void b.submit(images(1, 3), 1);
    } catch (e) {
      refused = e;
    }
    expect(refused).toBeInstanceOf(HttpError);
    expect((refused as HttpError).status).toBe(503);
    expect(Number((refused as HttpError).headers['retry-after'])).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 4; i++) {
      f.release();
      await tick();
    }
    await Promise.all([...running, ...queued]);
  });

  it('a request that waits longer than queueTimeoutMs is answered 504 and leaves the queue', async () => {
    const f = fakeEngine({ hold: true });
    const depths: number[] = [];
    const b = new Batcher(f.engine, limits({ windowMs: 0, queueTimeoutMs: 30, maxBatch: 1 }), 'fake', { ...noEvents, queueDepth: (d) => depths.push(d) });
    const running = [b.submit(images(1, 0), 1), b.submit(images(1, 1), 1)];
    await tick();
    const late = b.submit(images(1, 2), 1);
    expect(await statusOf(late)).toBe(504);
    expect(b.depth).toBe(0);
    expect(depths.at(-1)).toBe(0);
    f.release();
    f.release();
    await Promise.all(running);
    expect(f.batches).toEqual([1, 1]); // the expired request never reached the engine
  });

  it('an aborted request (client gone) leaves the queue and never runs', async () => {
    const f = fakeEngine({ hold: true });
    const b = new Batcher(f.engine, limits({ windowMs: 0, maxBatch: 1 }), 'fake', noEvents);
    const running = [b.submit(images(1, 0), 1), b.submit(images(1, 5), 1)];
    await tick();
    const controller = new AbortController();
    const gone = b.submit(images(1, 1), 1, controller.signal);
    const kept = b.submit(images(1, 2), 1);
    expect(b.depth).toBe(2);
    controller.abort();
    expect(await statusOf(gone)).toBe(499);
    expect(b.depth).toBe(1);
    f.release();
    await running[0];
    await tick();
    f.release();
    f.release();
    expect((await kept).out.data[0]).toBe(2 * FLOATS);
    expect(f.batches).toEqual([1, 1, 1]);
  });

  it('drain() sends what waits without the window and resolves when it is done', async () => {
    const f = fakeEngine();
    const b = new Batcher(f.engine, limits({ windowMs: 60_000 }), 'fake', noEvents);
    const jobs = [b.submit(images(1, 0), 1), b.submit(images(2, 1), 2)];
    await tick(5);
    expect(f.batches).toEqual([]);
    const t0 = performance.now();
    await b.drain();
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(f.batches).toEqual([3]);
    expect((await Promise.all(jobs)).map((r) => r.out.shape[0])).toEqual([1, 2]);
  });

  it('an engine failure fails that batch only; the next one runs', async () => {
    const f = fakeEngine({ failFirst: true });
    const b = new Batcher(f.engine, limits({ windowMs: 20, maxBatch: 2 }), 'fake', noEvents);
    const first = [b.submit(images(1, 0), 1), b.submit(images(1, 1), 1)];
    await expect(first[0]).rejects.toThrow('engine failed');
    await expect(first[1]).rejects.toThrow('engine failed');
    expect((await b.submit(images(1, 2), 1)).out.data[0]).toBe(2 * FLOATS);
    expect(f.batches).toEqual([2, 1]);
  });
});
