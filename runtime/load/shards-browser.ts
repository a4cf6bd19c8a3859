/**
 * Browser: the weight shards fetched a few at a time, each streamed straight to weightsBase + its
 * offset in wasm memory, hashed there as the bytes arrive (XXH64, format/xxh64.ts, on the model's
 * own memory), and stored in the Cache API (load/shard-cache.ts, from a copy) so that the next visit
 * needs no network for them. Plain code, no DOM: it needs fetch and (optionally) caches, which
 * workers have too.
 */
import { VggcError } from '../format/errors.js';
import type { Manifest, WeightShard } from '../format/manifest.js';
import type { ProgressCallback } from '../format/progress.js';
import { shardMismatch, type ShardCheck } from '../format/shards.js';
import { Xxh64OnMemory } from '../format/xxh64.js';
import { openShardCache, type ShardCache } from './shard-cache.js';
import { sha256Hex } from './verify-sha256.js';

/** Shards in flight at once: browsers open 6 connections per host over HTTP/1.1; 4 leaves room for the page. */
const PARALLEL = 4;
/** Attempts per shard for failures that may pass (network errors, 5xx, 408, 429, a cut-off body). */
const ATTEMPTS = 4;
/** Wait before retry k: 250 ms · 2^k. */
const RETRY_BASE_MS = 250;

export interface ShardFetchOptions {
  readonly base: URL;
  readonly manifest: Manifest;
  readonly manifestLabel: string;
  readonly memory: WebAssembly.Memory;
  readonly check: ShardCheck;
  readonly cache: boolean;
  readonly signal?: AbortSignal;
  readonly fetchInit?: RequestInit;
  readonly onProgress?: ProgressCallback;
}

/** What fetching one shard needs (a Web Worker gets it by message: no memory, no callbacks). */
export type ShardSource = Pick<ShardFetchOptions, 'base' | 'manifestLabel' | 'check' | 'cache' | 'signal' | 'fetchInit'>;

/** A failure worth another attempt. */
class Transient extends Error {}

/**
 * In Web Workers on cross-origin-isolated pages (they write straight into the shared memory), else
 * on this thread. Measured on VGG-11 (README, "Deploying to the web"): on the page, Chromium took
 * about twice as long as in workers, as the byte-range loader before shards had found for Firefox.
 */
export async function fetchShards(o: ShardFetchOptions): Promise<void> {
  const inWorkers = typeof Worker !== 'undefined' && globalThis.crossOriginIsolated === true && o.fetchInit === undefined && o.manifest.weights.shards.length > 1;
  if (inWorkers) return fetchShardsInWorkers(o);
  return fetchShardsHere(o);
}

/** Per shard, the bytes already reported: a retried shard reports nothing until it passes them, so the total never goes down. */
function progressReporter(o: ShardFetchOptions): (i: number, bytes: number, fromCache: boolean) => void {
  const total = o.manifest.weights.payloadBytes;
  const reported = new Float64Array(o.manifest.weights.shards.length);
  let loaded = 0;
  let cached = 0;
  return (i, bytes, fromCache) => {
    if (bytes <= reported[i]) return;
    loaded += bytes - reported[i];
    if (fromCache) cached += bytes - reported[i];
    reported[i] = bytes;
    o.onProgress?.({ loadedBytes: loaded, totalBytes: total, cachedBytes: cached });
  };
}

/** Messages from load/shard-worker.ts. */
export type FromShardWorker =
  | { readonly type: 'progress'; readonly index: number; readonly bytes: number; readonly fromCache: boolean }
  | { readonly type: 'done'; readonly index: number }
  | { readonly type: 'stored'; readonly index: number }
  | { readonly type: 'error'; readonly message: string; readonly vggc: boolean };

/** Messages to load/shard-worker.ts: a shard to fetch into memory at `dest`. */
export interface ToShardWorker {
  readonly source: Omit<ShardSource, 'signal' | 'base'> & { readonly base: string };
  readonly memory: WebAssembly.Memory;
  readonly index: number;
  readonly shard: WeightShard;
  readonly dest: number;
}

async function fetchShardsInWorkers(o: ShardFetchOptions): Promise<void> {
  const shards = o.manifest.weights.shards;
  const report = progressReporter(o);
  const script = new URL('./shard-worker.js', import.meta.url);
  const workers: Worker[] = [];
  const source = { base: o.base.href, manifestLabel: o.manifestLabel, check: o.check, cache: o.cache };
  let storedAll: () => void = () => undefined;
  const stored = new Promise<void>((resolve) => (storedAll = resolve));
  try {
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      let done = 0;
      let kept = 0;
      const abort = (): void => reject(o.signal!.reason ?? new DOMException('The load was aborted', 'AbortError'));
      if (o.signal?.aborted) return abort();
      o.signal?.addEventListener('abort', abort, { once: true });
      const give = (w: Worker): void => {
        if (next >= shards.length) return;
        const index = next++;
        w.postMessage({ source, memory: o.memory, index, shard: shards[index], dest: o.manifest.memory.weightsBase + shards[index].offset } satisfies ToShardWorker);
      };
      for (let k = 0; k < Math.min(PARALLEL, shards.length); k++) {
        const w = new Worker(script, { type: 'module', name: `vggc weights ${k}` });
        workers.push(w);
        w.addEventListener('message', (e: MessageEvent<FromShardWorker>) => {
          const m = e.data;
          if (m.type === 'progress') report(m.index, m.bytes, m.fromCache);
          else if (m.type === 'error') reject(m.vggc ? new VggcError(m.message) : new Error(m.message));
          else if (m.type === 'stored') {
            if (++kept === shards.length) storedAll();
          } else if (++done === shards.length) resolve();
          else give(w);
        });
        w.addEventListener('error', (e: ErrorEvent) => reject(new VggcError(`${o.base.href}: the weights worker failed (${e.message || 'could not start'})`)));
        give(w);
      }
    });
  } catch (e) {
    for (const w of workers) w.terminate();
    throw e;
  }
  // Every shard is in memory: the model loads now, while the workers finish storing (a page closed
  // meanwhile stores fewer shards, which the next visit fetches again). Then an earlier compile's
  // entries are dropped, and the workers end.
  void stored
    .then(async () => {
      if (o.cache && o.check !== 'none') {
        const cache = await openShardCache(o.base);
        await cache?.forgetOthers(shards);
        await cache?.settled();
      }
    })
    .finally(() => workers.forEach((w) => w.terminate()));
}

async function fetchShardsHere(o: ShardFetchOptions): Promise<void> {
  const { manifest, memory } = o;
  const shards = manifest.weights.shards;
  const total = manifest.weights.payloadBytes;
  const report = progressReporter(o);
  if (total === 0) o.onProgress?.({ loadedBytes: 0, totalBytes: 0, cachedBytes: 0 });
  // Unverified bytes are never stored, so without verification the cache is only read.
  const cache = o.cache ? await openShardCache(o.base) : null;
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < shards.length) {
      const i = next++;
      await shardInto(memory, manifest.memory.weightsBase + shards[i].offset, shards[i], i, o, cache, report);
      throwIfAborted(o.signal);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(PARALLEL, shards.length) }, lane));
  } catch (e) {
    next = shards.length; // the other lanes stop after their current shard
    throw e;
  }
  // Stored in the background, as in the workers.
  if (cache) void (o.check !== 'none' ? cache.forgetOthers(shards) : Promise.resolve()).then(() => cache.settled());
}

/**
 * One shard, verified, into memory at `start`: from the cache when it has it, else from the network
 * (then a copy is cached). On failure the bytes at `start` are garbage: the load fails as a whole.
 */
export async function shardInto(memory: WebAssembly.Memory, start: number, s: WeightShard, i: number, o: ShardSource, cache: ShardCache | null, report: (i: number, bytes: number, fromCache: boolean) => void): Promise<void> {
  const url = new URL(s.file, o.base);
  const dest = new Uint8Array(memory.buffer, start, s.bytes);
  const hash = o.check === 'xxh64' ? new Xxh64OnMemory(memory) : null;
  throwIfAborted(o.signal);
  const hit = await cache?.get(s);
  if (hit) {
    dest.set(hit);
    // Cached bytes were verified when stored; checking them again guards against a damaged profile.
    const good = o.check === 'none' || (hash ? (hash.reset(start).add(start + s.bytes), hash.digest() === s.xxh64) : (await sha256Hex(hit, url.href)) === s.sha256);
    if (good) {
      report(i, s.bytes, true);
      return;
    }
    await cache!.delete(s);
  }
  let reload = false;
  for (let attempt = 1; ; attempt++) {
    try {
      hash?.reset(start);
      await download(url, s, o, reload, dest, (n) => {
        hash?.add(start + n);
        report(i, n, false);
      });
      // The cache and WebCrypto get a copy of their own: neither takes shared memory.
      const copy = o.check === 'none' ? null : dest.slice();
      const good = o.check === 'none' || (hash ? hash.digest() === s.xxh64 : (await sha256Hex(copy!, url.href)) === s.sha256);
      if (!good) {
        // Once more past the browser's HTTP cache, which may hold the file of an earlier compile.
        if (!reload) {
          reload = true;
          continue;
        }
        throw shardMismatch(url.href, hash ? 'XXH64' : 'SHA-256', o.manifestLabel);
      }
      // Unverified bytes are never stored.
      if (copy) cache?.put(s, copy);
      return;
    } catch (e) {
      if (!(e instanceof Transient)) throw e;
      if (attempt >= ATTEMPTS) throw new VggcError(`${url.href}: ${e.message}, ${ATTEMPTS} attempts`);
      await sleep(RETRY_BASE_MS * 2 ** (attempt - 1), o.signal);
    }
  }
}

/** The shard's bytes into `bytes` (its place in wasm memory); `progress` gets the bytes so far after each piece. */
async function download(url: URL, s: WeightShard, o: ShardSource, reload: boolean, bytes: Uint8Array, progress: (bytes: number) => void): Promise<void> {
  let res: Response;
  try {
    // With the Cache API holding verified shards, the HTTP cache would only keep a second copy.
    const cacheMode: RequestCache | undefined = reload ? 'reload' : o.cache ? 'no-store' : o.fetchInit?.cache;
    res = await fetch(url, { ...o.fetchInit, signal: o.signal ?? o.fetchInit?.signal, ...(cacheMode ? { cache: cacheMode } : {}) });
  } catch (e) {
    throwIfAborted(o.signal);
    throw new Transient(`cannot fetch (${(e as Error).message})`);
  }
  if (!res.ok) {
    const message = `HTTP ${res.status} ${res.statusText}`.trim();
    if (res.status >= 500 || res.status === 408 || res.status === 429) throw new Transient(message);
    throw new VggcError(`${url.href}: ${message}; model.json lists it as a weights shard`);
  }
  let filled = 0;
  if (!res.body) throw new VggcError(`${url.href}: the response has no body`);
  const reader = res.body.getReader();
  try {
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        throwIfAborted(o.signal);
        throw new Transient(`the download broke off after ${filled} of ${s.bytes} bytes (${(e as Error).message})`);
      }
      if (chunk.done) break;
      if (filled + chunk.value.length > s.bytes) throw new VggcError(`${url.href}: is longer than the ${s.bytes} bytes model.json records (padded, or from another compile)`);
      bytes.set(chunk.value, filled);
      filled += chunk.value.length;
      progress(filled);
    }
  } finally {
    reader.cancel().catch(() => undefined);
  }
  if (filled !== s.bytes) {
    // A server that sent a Content-Length and less is a cut-off download; one that says the file is short has a truncated file.
    const length = res.headers.get('Content-Length');
    if (length !== null && !res.headers.get('Content-Encoding') && Number(length) === filled) throw new VggcError(`${url.href}: is ${filled} bytes, expected ${s.bytes} (truncated)`);
    throw new Transient(`ended after ${filled} of ${s.bytes} bytes`);
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw signal.reason ?? new DOMException('The load was aborted', 'AbortError');
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason ?? new DOMException('The load was aborted', 'AbortError'));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
