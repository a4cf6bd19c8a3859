/**
 * Browser loader: model.json → checks → WebAssembly.compileStreaming(model.wasm) → one shared memory
 * → the weight shards, a few at a time, each verified and copied to its place in it, from the Cache
 * API when they are there (load/shards-browser.ts) → threads on Web Workers when the page is
 * cross-origin isolated. No Node built-ins are reachable from here.
 */
import { VggcError } from '../format/errors.js';
import { checkManifest } from '../format/manifest-check.js';
import type { Manifest } from '../format/manifest.js';
import { checkWasmMatchesManifest } from '../format/wasm-tag.js';
import type { ProgressCallback } from '../format/progress.js';
import { shardCheck, type VerifyOption } from '../format/shards.js';
import { createInstance, type ModelInstance } from '../instance.js';
import { wrapInstance } from '../infer.js';
import type { VggcModel } from '../model.js';
import { warmUp } from '../steps.js';
import { startBrowserThreads } from '../threads/browser-pool.js';
import { resolveThreads } from '../threads/policy.js';
import { chooseBuild, type BuildChoice } from './build.js';
import { fetchShards } from './shards-browser.js';
import { clearFolderCache } from './shard-cache.js';

export interface BrowserLoadOptions {
  /**
   * Called as weight bytes arrive ({ loadedBytes, totalBytes, cachedBytes }): loadedBytes never
   * decreases and the last call has loadedBytes = totalBytes; cachedBytes are those the Cache API gave.
   */
  readonly onProgress?: ProgressCallback;
  /**
   * Keep verified shards in the Cache API and load them from there next time (default true): a
   * second visit makes no request for weights, a recompiled model fetches only the shards that
   * changed. Where the cache is unavailable or full, the weights come from the network (with a
   * console warning).
   */
  readonly cache?: boolean;
  /**
   * Check every shard's XXH64 (model.json) as it arrives (default true); also required to cache it.
   * `'sha256'` checks SHA-256 instead (slower, and a copy per shard: WebCrypto cannot hash shared
   * memory), for shards from a host trusted less than model.json. `false` skips the check.
   */
  readonly verify?: VerifyOption;
  /** Aborts the load: pending fetches are cancelled and loadModel rejects with the signal's reason. */
  readonly signal?: AbortSignal;
  /**
   * Threads that run each layer. With threads (cross-origin isolated pages only) the network runs in
   * Web Workers: a leader and threads − 1 helpers on one shared memory, so the page never blocks.
   * Default: navigator.hardwareConcurrency, at most 4 and the model's maxWorkers; 1 when the page is
   * not cross-origin isolated. `1` runs on the calling thread.
   */
  readonly threads?: number;
  /** As in Node: `deterministic` (model.wasm, the default), `relaxed` (model-relaxed.wasm) or `fastest` (alias `auto`). */
  readonly build?: BuildChoice;
  /** Passed to every fetch (credentials, headers…). */
  readonly fetchInit?: RequestInit;
  /**
   * Run every layer once on a few work items before resolving (default true), so that the first
   * inference does not run in V8's baseline tier. `false` resolves sooner, with a slower first inference.
   */
  readonly warmUp?: boolean;
}

/** Why threads are not available here, or null when they are. */
export function threadsUnavailableReason(): string | null {
  if (typeof Worker === 'undefined') return 'Web Workers are not available in this context';
  if (!globalThis.crossOriginIsolated) {
    return (
      'this page is not cross-origin isolated (crossOriginIsolated is false), so the shared WebAssembly.Memory cannot be sent to Web Workers; ' +
      'serve the page with "Cross-Origin-Opener-Policy: same-origin" and "Cross-Origin-Embedder-Policy: require-corp" (npm run serve does)'
    );
  }
  return null;
}

/** Whether this engine lets the page create a shared WebAssembly.Memory (model.wasm imports one). */
function sharedMemoryError(): string | null {
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return null;
  } catch (e) {
    return (
      `this browser does not allow a shared WebAssembly.Memory here (${(e as Error).message}), and vggc models always import one; ` +
      'serve the page cross-origin isolated ("Cross-Origin-Opener-Policy: same-origin", "Cross-Origin-Embedder-Policy: require-corp")'
    );
  }
}

/**
 * Loads a compiled model folder (the URL of the folder written by `vggc compile`, or of its
 * model.json), relative to the document.
 */
export async function loadModel(url: string | URL, opts: BrowserLoadOptions = {}): Promise<VggcModel> {
  const base = folderUrl(url);
  const label = base.href;
  const manifestUrl = new URL('model.json', base);
  const manifest = checkManifest(await fetchJson(manifestUrl, requestInit(opts)), manifestUrl.href);

  const cores = typeof navigator !== 'undefined' && navigator.hardwareConcurrency ? navigator.hardwareConcurrency : 1;
  let threads = resolveThreads(opts.threads, cores, manifest, label);
  const noThreads = threadsUnavailableReason();
  const why = sharedMemoryError();
  if (why) throw new VggcError(`loadModel: ${label}: ${why}`);
  if (threads > 1 && noThreads) {
    console.warn(`vggc: running ${manifest.name} on 1 thread instead of ${threads}: ${noThreads}`);
    threads = 1;
  } else if (threads === 1 && opts.threads === undefined && noThreads) {
    console.info(`vggc: running ${manifest.name} on 1 thread: ${noThreads}`);
  }

  const inst = await instantiate(base, manifest, opts);
  // Under cross-origin isolation the network always runs in workers (threads = 1: the leader alone),
  // so a long inference never freezes the page; otherwise on this thread.
  // Browsers have no --no-liftoff: every layer's first call runs in V8's baseline tier (the first
  // inference took 2.4–5.7× the steady time on VGG-11 in Chromium). Running each layer once on a few
  // work items at load, as in Node, gets the kernels tiered up before the caller's first inference.
  const warm = opts.warmUp !== false;
  if (noThreads) {
    if (warm) await warmUp(inst);
    return wrapInstance(inst, label);
  }
  return startBrowserThreads(inst, threads, label, warm);
}

/** The low-level view (memory + layer functions) on this thread, for per-layer tools. */
export async function loadInstance(url: string | URL, opts: BrowserLoadOptions = {}): Promise<ModelInstance> {
  const base = folderUrl(url);
  const manifestUrl = new URL('model.json', base);
  return instantiate(base, checkManifest(await fetchJson(manifestUrl, requestInit(opts)), manifestUrl.href), opts);
}

async function instantiate(base: URL, manifest: Manifest, opts: BrowserLoadOptions): Promise<ModelInstance> {
  const label = base.href;
  const manifestUrl = new URL('model.json', base);
  const chosen = chooseBuild(manifest, opts.build, manifestUrl.href, 'browser does not support relaxed SIMD');
  const wasmUrl = new URL(chosen.file, base);

  const module = await compileWasm(wasmUrl, requestInit(opts));
  opts.signal?.throwIfAborted();
  checkWasmMatchesManifest(module, manifest, wasmUrl.href, manifestUrl.href);

  if (opts.cache !== undefined && typeof opts.cache !== 'boolean') throw new VggcError(`loadModel: cache must be true or false, found ${JSON.stringify(opts.cache)}`);
  const check = shardCheck(opts.verify);
  return createInstance(
    manifest,
    module,
    chosen.build,
    (memory) =>
      fetchShards({
        base,
        manifest,
        manifestLabel: manifestUrl.href,
        memory,
        check,
        cache: opts.cache !== false,
        signal: opts.signal,
        fetchInit: opts.fetchInit,
        onProgress: opts.onProgress,
      }),
    label,
  );
}

/**
 * Removes the cached weight shards of the model folder at `url` (as loadModel takes it) from the
 * Cache API; returns how many were removed. The next load fetches them again.
 */
export async function clearCache(url: string | URL): Promise<number> {
  return clearFolderCache(folderUrl(url));
}

/**
 * compileStreaming compiles while the bytes arrive and is not subject to Chromium's 8 MB cap on
 * synchronous compilation; it needs `Content-Type: application/wasm`, so other servers fall back to
 * an asynchronous compile of the whole response.
 */
async function compileWasm(url: URL, init: RequestInit | undefined): Promise<WebAssembly.Module> {
  const res = await fetchOk(url, init);
  try {
    const type = res.headers.get('Content-Type') ?? '';
    if (typeof WebAssembly.compileStreaming === 'function' && type.split(';')[0].trim() === 'application/wasm') {
      return await WebAssembly.compileStreaming(res);
    }
    console.warn(`vggc: ${url.href} is served as "${type}", not application/wasm: compiling without streaming`);
    return await WebAssembly.compile(await res.arrayBuffer());
  } catch (e) {
    throw new VggcError(`${url.href}: not a valid WebAssembly module for this browser (${(e as Error).message})`);
  }
}

function folderUrl(url: string | URL): URL {
  const base = typeof document !== 'undefined' ? document.baseURI : (globalThis as { location?: { href: string } }).location?.href;
  const u = new URL(url, base);
  if (u.pathname.endsWith('/model.json')) return new URL('.', u);
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u;
}

/** fetchInit with the load's signal. */
function requestInit(opts: BrowserLoadOptions): RequestInit | undefined {
  return opts.signal ? { ...opts.fetchInit, signal: opts.signal } : opts.fetchInit;
}

async function fetchOk(url: URL, init: RequestInit | undefined): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (e) {
    init?.signal?.throwIfAborted(); // an abort rejects with the caller's reason, as fetch does
    throw new VggcError(`${url.href}: cannot fetch (${(e as Error).message})`);
  }
  if (!res.ok) throw new VggcError(`${url.href}: HTTP ${res.status} ${res.statusText}; is this a folder written by vggc compile?`);
  return res;
}

async function fetchJson(url: URL, init: RequestInit | undefined): Promise<unknown> {
  const text = await (await fetchOk(url, init)).text();
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new VggcError(`${url.href}: invalid JSON (${(e as Error).message})`);
  }
}
