/**
 * weights.bin in a few byte ranges at once, each streamed straight into the model's shared memory:
 * in Web Workers where the page may share the memory with them (cross-origin isolated), else on
 * this thread. Used by the browser loader (load/browser.ts) when the server answers range requests.
 * Measured on VGG-11's 642 MB (docs/performance.md, "Browsers"): Firefox took about twice as long
 * as Chromium to stream one response on the page; in workers, in parallel ranges, it no longer does.
 */
import { VggcError } from '../format/errors.js';
import type { FromRangeWorker } from './range-worker.js';

/** One range: file bytes [start, start + length) → memory bytes [dest, dest + length). */
export interface RangeJob {
  readonly url: string;
  readonly memory: WebAssembly.Memory;
  readonly dest: number;
  readonly start: number;
  readonly length: number;
}

/** Ranges fetched at once: 2 to 8 measured alike; HTTP/1.1 browsers open at most 6 connections per host. */
const PARTS = 4;
/** Below this, one response is as fast: not worth the extra requests. */
export const RANGED_MIN_BYTES = 32 << 20;

/**
 * Fetches file bytes [start, start + length) into `memory` at `dest`, calling `onBytes` per chunk.
 * Plain code, no DOM: it runs in range-worker.ts and on the page alike.
 */
export async function copyRange(job: RangeJob, onBytes: (n: number) => void): Promise<void> {
  const { url, memory, dest, start, length } = job;
  const end = start + length - 1;
  let res: Response;
  try {
    res = await fetch(url, { headers: { Range: `bytes=${start}-${end}` } });
  } catch (e) {
    throw new VggcError(`${url}: cannot fetch bytes ${start}–${end} (${(e as Error).message})`);
  }
  // A server that ignores the range would send the whole file: refuse it rather than overrun `dest`.
  // Content-Range is checked where it can be read; a cross-origin server that does not expose it
  // still cannot overrun the destination (the length checks below).
  const range = res.headers.get('Content-Range');
  const got = range === null ? null : /^bytes (\d+)-(\d+)\//.exec(range);
  if (res.status !== 206 || (range !== null && (!got || Number(got[1]) !== start || Number(got[2]) !== end)) || !res.body) {
    throw new VggcError(`${url}: asked for bytes ${start}–${end}, got HTTP ${res.status} ${res.headers.get('Content-Range') ?? 'without Content-Range'}`);
  }
  const view = new Uint8Array(memory.buffer, dest, length);
  const reader = res.body.getReader();
  let done = 0;
  for (;;) {
    const { done: finished, value } = await reader.read();
    if (finished) break;
    if (done + value.length > length) throw new VggcError(`${url}: the range ${start}–${end} is longer than asked for`);
    view.set(value, done);
    done += value.length;
    onBytes(value.length);
  }
  if (done !== length) throw new VggcError(`${url}: the range ${start}–${end} ended after ${done} of ${length} bytes`);
}

/**
 * Copies file bytes [start, start + length) of `url` into `memory` at `dest` in PARTS ranges at
 * once: in Web Workers when `inWorkers`, else on this thread. `onProgress` gets the bytes done.
 */
export async function copyInRanges(url: string, memory: WebAssembly.Memory, dest: number, start: number, length: number, inWorkers: boolean, onProgress: (done: number) => void): Promise<void> {
  const parts = Math.max(1, Math.min(PARTS, Math.ceil(length / RANGED_MIN_BYTES)));
  // Part boundaries on 64 KiB multiples: whole pages per part.
  const step = Math.ceil(length / parts / 65536) * 65536;
  const jobs: RangeJob[] = [];
  for (let off = 0; off < length; off += step) jobs.push({ url, memory, dest: dest + off, start: start + off, length: Math.min(step, length - off) });
  let done = 0;
  const add = (n: number): void => {
    done += n;
    onProgress(done);
  };
  if (!inWorkers) {
    await Promise.all(jobs.map((job) => copyRange(job, add)));
    return;
  }
  const script = new URL('./range-worker.js', import.meta.url);
  const workers: Worker[] = [];
  try {
    await Promise.all(
      jobs.map(
        (job, i) =>
          new Promise<void>((resolve, reject) => {
            const worker = new Worker(script, { type: 'module', name: `vggc weights ${i}` });
            workers.push(worker);
            worker.addEventListener('message', (e: MessageEvent<FromRangeWorker>) => {
              if (e.data.type === 'progress') add(e.data.bytes);
              else if (e.data.type === 'done') resolve();
              else reject(new VggcError(e.data.message));
            });
            worker.addEventListener('error', (e: ErrorEvent) => reject(new VggcError(`${url}: the weights worker failed (${e.message || 'could not start'})`)));
            worker.postMessage(job);
          }),
      ),
    );
  } finally {
    for (const w of workers) w.terminate();
  }
}
