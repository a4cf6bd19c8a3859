/**
 * Where a model runs for the server. The runtime computes on the thread that calls infer() (with
 * helper threads for parts of each layer), which would stall HTTP for a whole batch. So the server
 * loads each model in its own worker thread (model-worker.ts): the HTTP thread keeps accepting,
 * parsing, timing out and counting while a batch runs, and the next batch gathers meanwhile.
 * InProcessEngine runs a model object directly, for tests and for models that are not folders.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { VggcError } from '../format/errors.js';
import type { Manifest } from '../format/manifest.js';
import type { VggcModel } from '../model.js';
import { describeOutputs, runOutputs, type OutputInfo, type Outputs } from './outputs.js';

/** A batch's outputs, and the seconds the model itself spent on it (not the time it waited behind another batch). */
export interface EngineResult {
  readonly outputs: Outputs;
  readonly seconds: number;
}

export interface Engine {
  readonly manifest: Manifest;
  readonly outputs: readonly OutputInfo[];
  /** False once the engine failed; it then rejects every run. */
  readonly ready: boolean;
  run(x: Float32Array, n: number): Promise<EngineResult>;
  close(): Promise<void>;
}

/** Runs one batch on `model` and times it. */
export async function timedRun(model: VggcModel, x: Float32Array, n: number): Promise<EngineResult> {
  const started = performance.now();
  const outputs = await runOutputs(model, x, n);
  return { outputs, seconds: (performance.now() - started) / 1000 };
}

export class InProcessEngine implements Engine {
  readonly manifest: Manifest;
  readonly outputs: readonly OutputInfo[];
  ready = true;
  constructor(private readonly model: VggcModel) {
    this.manifest = model.manifest;
    this.outputs = describeOutputs(model);
  }
  /** Calls are serialised like the worker's, so that the time measured is this batch's alone. */
  private last: Promise<unknown> = Promise.resolve();
  run(x: Float32Array, n: number): Promise<EngineResult> {
    const result = this.last.then(() => timedRun(this.model, x, n));
    this.last = result.catch(() => {});
    return result;
  }
  async close(): Promise<void> {
    this.ready = false;
    this.model.dispose();
  }
}

/** Messages between WorkerEngine and model-worker.ts. */
export type ToWorker = { type: 'infer'; id: number; x: Float32Array; n: number } | { type: 'close' };
export type FromWorker =
  | { type: 'ready'; manifest: Manifest; outputs: OutputInfo[] }
  | { type: 'failed'; error: string }
  | { type: 'result'; id: number; outputs: Outputs; seconds: number }
  | { type: 'error'; id: number; error: string };

/** The compiled worker next to this module; from the TypeScript sources (tests), the build's copy. */
function workerScript(): URL {
  const beside = new URL('./model-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(beside))) return beside;
  return new URL('../../dist/runtime/server/model-worker.js', import.meta.url);
}

export class WorkerEngine implements Engine {
  private readonly pending = new Map<number, { resolve: (r: EngineResult) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private failure: string | null = null;
  private closing = false;

  private constructor(
    private readonly worker: Worker,
    readonly manifest: Manifest,
    readonly outputs: readonly OutputInfo[],
    private readonly dir: string,
  ) {
    worker.on('message', (m: FromWorker) => {
      if (m.type !== 'result' && m.type !== 'error') return;
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.type === 'result') p?.resolve({ outputs: m.outputs, seconds: m.seconds });
      else p?.reject(new VggcError(`${dir}: inference failed: ${m.error}`));
    });
    worker.on('error', (e) => this.lost(`its worker crashed (${e.message})`));
    worker.on('exit', (code) => {
      if (!this.closing) this.lost(`its worker exited (code ${code})`);
    });
  }

  get ready(): boolean {
    return this.failure === null && !this.closing;
  }

  /** Loads `dir` in a new worker with the deterministic build (a request's answer must not depend on the machine's FMA). */
  static start(dir: string, threads: number | undefined): Promise<WorkerEngine> {
    const worker = new Worker(workerScript(), { workerData: { dir, threads } });
    return new Promise((resolve, reject) => {
      const onExit = (code: number): void => reject(new VggcError(`${dir}: the model worker exited (code ${code}) while loading`));
      worker.once('exit', onExit);
      worker.once('error', (e) => reject(new VggcError(`${dir}: the model worker failed while loading (${e.message})`)));
      worker.once('message', (m: FromWorker) => {
        worker.off('exit', onExit);
        if (m.type === 'ready') resolve(new WorkerEngine(worker, m.manifest, m.outputs, dir));
        else {
          void worker.terminate();
          reject(new VggcError(m.type === 'failed' ? m.error : `${dir}: unexpected message from the model worker`));
        }
      });
    });
  }

  run(x: Float32Array, n: number): Promise<EngineResult> {
    if (this.failure) return Promise.reject(new VggcError(`${this.dir}: model unavailable: ${this.failure}`));
    if (this.closing) return Promise.reject(new VggcError(`${this.dir}: model is shutting down`));
    const id = this.nextId++;
    // Transferred, not copied: the batcher hands over a buffer that nobody else holds.
    const own = x.byteOffset === 0 && x.byteLength === x.buffer.byteLength ? x : x.slice();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'infer', id, x: own, n } satisfies ToWorker, [own.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage({ type: 'close' } satisfies ToWorker);
    const timer = setTimeout(() => void this.worker.terminate(), 5_000);
    await exited;
    clearTimeout(timer);
    this.lost('it was closed');
  }

  private lost(reason: string): void {
    this.failure ??= reason;
    for (const p of this.pending.values()) p.reject(new VggcError(`${this.dir}: model unavailable: ${reason}`));
    this.pending.clear();
  }
}
