/**
 * Dynamic batching for one model. Requests queue in arrival order; a batch takes requests from the
 * front while their images fit in maxBatch (a request is never split, and one larger than maxBatch
 * runs alone), once maxBatch images are waiting or the first of them has waited windowMs. Up to
 * IN_FLIGHT batches are handed to the engine at once (it runs them in order): the next batch is
 * already there when one finishes, so a small model does not idle for a thread round trip between
 * batches. Requests that arrive meanwhile form the batch after. Each request gets back
 * exactly its own rows; with the deterministic build they are the bits it would get alone (the
 * convolutions run image by image and the classifier sums every output in input order).
 */
import { HttpError } from './http-error.js';
import type { Engine } from './engine.js';
import type { Outputs } from './outputs.js';

/** Batches handed to the engine at a time: one running, one waiting in the engine's own queue. */
export const IN_FLIGHT = 2;

export interface BatcherLimits {
  readonly maxBatch: number;
  readonly windowMs: number;
  readonly maxQueue: number;
  readonly queueTimeoutMs: number;
}

/** What the batcher reports (metrics.ts turns these into Prometheus series). */
export interface BatcherEvents {
  queueDepth(depth: number): void;
  batch(images: number, seconds: number): void;
  waited(seconds: number): void;
}

interface Job {
  readonly x: Float32Array;
  readonly n: number;
  readonly enqueued: number;
  readonly resolve: (o: Outputs) => void;
  readonly reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
  onAbort?: () => void;
  signal?: AbortSignal;
}

export class Batcher {
  private readonly queue: Job[] = [];
  private queuedImages = 0;
  /** Batches handed to the engine and not yet answered. */
  private active = 0;
  private timer: NodeJS.Timeout | null = null;
  private draining = false;
  private idleWaiters: (() => void)[] = [];
  /** Seconds per batch, smoothed: for Retry-After. */
  private batchSeconds = 0;

  constructor(
    private readonly engine: Engine,
    private readonly limits: BatcherLimits,
    private readonly label: string,
    private readonly events: BatcherEvents,
  ) {}

  get depth(): number {
    return this.queue.length;
  }

  /**
   * Queues `n` images (x is N×C×H×W, checked by the caller) and resolves with their outputs. Rejects
   * with 503 when the queue is full, 504 when it waited longer than queueTimeoutMs; an aborted
   * `signal` (the client went away) removes it from the queue.
   */
  submit(x: Float32Array, n: number, signal?: AbortSignal): Promise<Outputs> {
    if (this.queue.length >= this.limits.maxQueue) {
      throw new HttpError(503, `model ${this.label}: the queue is full (${this.queue.length} requests waiting); retry later`, { 'retry-after': String(this.retryAfterSeconds()) });
    }
    return new Promise<Outputs>((resolve, reject) => {
      const job: Job = { x, n, enqueued: performance.now(), resolve, reject };
      if (this.limits.queueTimeoutMs > 0) {
        job.timer = setTimeout(() => this.expire(job), this.limits.queueTimeoutMs);
      }
      if (signal) {
        if (signal.aborted) return reject(new HttpError(499, 'client closed the request'));
        job.signal = signal;
        job.onAbort = () => this.remove(job, new HttpError(499, 'client closed the request'));
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.queuedImages += n;
      this.events.queueDepth(this.queue.length);
      this.schedule();
    });
  }

  /** From now on batches go out without waiting for the window; resolves once nothing is queued or running. */
  drain(): Promise<void> {
    this.draining = true;
    this.schedule();
    if (this.active === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private retryAfterSeconds(): number {
    const batches = Math.ceil(this.queuedImages / this.limits.maxBatch) + 1;
    return Math.max(1, Math.ceil(batches * this.batchSeconds));
  }

  private expire(job: Job): void {
    const waited = Math.round(performance.now() - job.enqueued);
    this.remove(job, new HttpError(504, `model ${this.label}: the request waited ${waited} ms in the queue (limit ${this.limits.queueTimeoutMs} ms)`));
  }

  /** Takes a job that has not started out of the queue and fails it. */
  private remove(job: Job, error: Error): void {
    const i = this.queue.indexOf(job);
    if (i < 0) return; // already running: it will be answered (or discarded if the client left)
    this.queue.splice(i, 1);
    this.queuedImages -= job.n;
    this.release(job);
    this.events.queueDepth(this.queue.length);
    job.reject(error);
    this.schedule();
  }

  private release(job: Job): void {
    if (job.timer) clearTimeout(job.timer);
    if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
  }

  private schedule(): void {
    while (this.active < IN_FLIGHT && this.queue.length > 0) {
      const wait = this.limits.windowMs - (performance.now() - this.queue[0].enqueued);
      if (!(this.draining || this.queuedImages >= this.limits.maxBatch || wait <= 0)) {
        this.timer ??= setTimeout(() => {
          this.timer = null;
          this.schedule();
        }, wait);
        return;
      }
      this.clearTimer();
      void this.dispatch();
    }
    if (this.queue.length === 0) this.clearTimer();
    if (this.active === 0 && this.queue.length === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Takes the next batch off the queue (synchronously, so schedule() sees the queue it leaves) and runs it. */
  private async dispatch(): Promise<void> {
    const jobs: Job[] = [];
    let images = 0;
    while (this.queue.length > 0 && (jobs.length === 0 || images + this.queue[0].n <= this.limits.maxBatch)) {
      const job = this.queue.shift()!;
      this.release(job);
      jobs.push(job);
      images += job.n;
    }
    this.queuedImages -= images;
    this.active++;
    this.events.queueDepth(this.queue.length);
    const now = performance.now();
    for (const job of jobs) this.events.waited((now - job.enqueued) / 1000);
    try {
      const { outputs, seconds } = await this.engine.run(concatRows(jobs), images);
      this.batchSeconds = this.batchSeconds === 0 ? seconds : 0.8 * this.batchSeconds + 0.2 * seconds;
      this.events.batch(images, seconds);
      let row = 0;
      for (const job of jobs) {
        job.resolve(sliceRows(outputs, row, job.n));
        row += job.n;
      }
    } catch (e) {
      for (const job of jobs) job.reject(e as Error);
    } finally {
      this.active--;
      this.schedule();
    }
  }
}

/** The jobs' inputs as one fresh N×C×H×W buffer (fresh, so the engine may take it over). */
function concatRows(jobs: readonly Job[]): Float32Array {
  const x = new Float32Array(jobs.reduce((a, j) => a + j.x.length, 0));
  let at = 0;
  for (const job of jobs) {
    x.set(job.x, at);
    at += job.x.length;
  }
  return x;
}

/** Rows [first, first + n) of every output, shapes starting with n. */
export function sliceRows(outputs: Outputs, first: number, n: number): Outputs {
  const out: Outputs = {};
  for (const [name, t] of Object.entries(outputs)) {
    const per = t.data.length / t.shape[0];
    out[name] = { data: t.data.slice(first * per, (first + n) * per), shape: [n, ...t.shape.slice(1)] };
  }
  return out;
}
