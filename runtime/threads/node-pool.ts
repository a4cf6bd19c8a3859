/**
 * A persistent pool of worker_threads running layer functions on the model's one shared
 * WebAssembly.Memory. Per step the main thread (worker 0) posts the step's work items through a small
 * control block in a SharedArrayBuffer, wakes the workers with Atomics.notify, runs its share (its own
 * range, then what is left of the others': protocol.ts), and waits (Atomics.wait) until every worker
 * has finished: one barrier per step, no messages on the hot path.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { VggcError } from '../format/errors.js';
import { CONTROL, controlInts, pollHelpers, postStep, rangeWords, shareStep, shutDown, STEP_TIMEOUT_MS, type StepWork } from './protocol.js';
import type { StepExecutor } from './executor.js';


/**
 * The compiled worker script next to this module; when this module runs from its TypeScript source
 * (tests), the build's copy in dist/ (npm test builds first).
 */
function workerScript(): URL {
  const beside = new URL('./node-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  return new URL('../../dist/runtime/threads/node-worker.js', import.meta.url);
}

export class WorkerPool implements StepExecutor {
  private readonly control: Int32Array;
  private readonly ranges: BigInt64Array;
  private readonly workers: Worker[] = [];
  private failure: string | null = null;
  private shuttingDown = false;

  private constructor(readonly threads: number) {
    this.control = new Int32Array(new SharedArrayBuffer(controlInts(threads) * 4));
    this.ranges = rangeWords(this.control);
  }

  /** Starts `size - 1` workers (the calling thread is worker 0) on `module` and `memory`. */
  static async start(module: WebAssembly.Module, memory: WebAssembly.Memory, functions: readonly string[], size: number): Promise<WorkerPool> {
    const pool = new WorkerPool(size);
    const url = workerScript();
    const ready: Promise<void>[] = [];
    for (let w = 1; w < size; w++) {
      const worker = new Worker(url, { workerData: { module, memory, functions, control: pool.control, worker: w } });
      ready.push(
        new Promise((resolve, reject) => {
          worker.once('message', (m: { ready?: boolean; error?: string }) => (m.ready ? resolve() : reject(new VggcError(`worker ${w} failed to start: ${m.error}`))));
          worker.once('error', (e) => reject(new VggcError(`worker ${w} failed to start: ${e.message}`)));
        }),
      );
      worker.on('error', (e) => pool.workerLost(`worker ${w} crashed: ${e.message}`));
      worker.on('exit', (code) => {
        if (!pool.shuttingDown) pool.workerLost(`worker ${w} exited (code ${code})`);
      });
      worker.on('message', (m: { error?: string }) => {
        if (m.error) pool.failure ??= `worker ${w}: ${m.error}`;
      });
      pool.workers.push(worker);
    }
    try {
      await Promise.all(ready);
    } catch (e) {
      await pool.terminate();
      throw e;
    }
    // Idle workers must not keep the process alive (a script that forgets dispose() still exits).
    for (const worker of pool.workers) worker.unref();
    return pool;
  }

  /**
   * Runs step `step` over its work items: worker 0 (this thread) calls `own` for each range it claims.
   * Returns once all workers are done (usually at once, after a short poll), or a promise when they
   * are still running: then it waits with Atomics.waitAsync, so that the event loop can report a
   * worker that died (its exit handler wakes the wait). Throws if a worker failed.
   */
  run(step: number, work: StepWork, own: (start: number, end: number) => void): void | Promise<void> {
    if (this.failure) throw new VggcError(`the thread pool is broken: ${this.failure}`);
    postStep(this.control, this.ranges, step, work);
    try {
      shareStep(this.control, this.ranges, 0, own);
    } catch (e) {
      // The helpers may still be in this step: no later step may be posted over them.
      this.failure ??= `step ${step} failed on the main thread: ${String((e as Error)?.message ?? e)}`;
      Atomics.store(this.control, CONTROL.ERROR, 1);
      throw e;
    }
    // Poll briefly (workers usually finish within a fraction of a step), then wait.
    if (pollHelpers(this.control)) return this.checkStep(step);
    return this.waitForWorkers(step);
  }

  private async waitForWorkers(step: number): Promise<void> {
    const c = this.control;
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (let pending = Atomics.load(c, CONTROL.PENDING); pending !== 0 && !Atomics.load(c, CONTROL.ERROR); pending = Atomics.load(c, CONTROL.PENDING)) {
      const { value } = Atomics.waitAsync(c, CONTROL.PENDING, pending, 1000);
      // A pending waitAsync does not keep Node's event loop alive (and the idle workers are unref'd).
      const keepAlive = setTimeout(() => {}, 1000);
      const outcome = await value;
      clearTimeout(keepAlive);
      if (outcome === 'timed-out' && Date.now() > deadline) {
        this.failure = `a worker did not finish step ${step} within ${STEP_TIMEOUT_MS / 1000} s`;
        break;
      }
    }
    this.checkStep(step);
  }

  private checkStep(step: number): void {
    if (this.failure || Atomics.load(this.control, CONTROL.ERROR)) {
      this.failure ??= `a worker failed in step ${step}`;
      throw new VggcError(`the thread pool is broken: ${this.failure}`);
    }
  }

  /** A worker that crashed or exited: fail the step in progress at once instead of waiting for it. */
  private workerLost(reason: string): void {
    this.failure ??= reason;
    Atomics.store(this.control, CONTROL.ERROR, 1);
    Atomics.notify(this.control, CONTROL.PENDING);
  }

  async terminate(): Promise<void> {
    this.shuttingDown = true;
    // A step in flight (dispose() during infer()) must fail now, not wait for its workers' timeout.
    this.failure ??= 'it was shut down (dispose())';
    Atomics.store(this.control, CONTROL.ERROR, 1);
    Atomics.notify(this.control, CONTROL.PENDING);
    shutDown(this.control);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
