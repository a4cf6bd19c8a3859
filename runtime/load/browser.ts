/**
 * Browser loader: model.json → checks → WebAssembly.compileStreaming(model.wasm) → one shared memory
 * → weights.bin streamed from the response body straight into it, chunk by chunk (no second copy of
 * the weights anywhere) → threads on Web Workers when the page is cross-origin isolated.
 * No Node built-ins are reachable from here.
 */
import { VggcError } from '../format/errors.js';
import { checkManifest } from '../format/manifest-check.js';
import type { Manifest } from '../format/manifest.js';
import { checkWasmMatchesManifest } from '../format/wasm-tag.js';
import { checkWeightsHeader, WEIGHTS_HEADER_BYTES } from '../format/weights-file.js';
import { createInstance, type ModelInstance } from '../instance.js';
import { wrapInstance } from '../infer.js';
import type { BuildName, VggcModel } from '../model.js';
import { warmUp } from '../steps.js';
import { startBrowserThreads } from '../threads/browser-pool.js';
import { resolveThreads } from '../threads/policy.js';
import { chooseBuild, type BuildChoice } from './build.js';
import { copyInRanges, RANGED_MIN_BYTES } from './ranges.js';

export interface BrowserLoadOptions {
  /** Called for every chunk of weights.bin copied into wasm memory. */
  readonly onProgress?: (loadedBytes: number, totalBytes: number) => void;
  /**
   * Threads that run each layer. With threads (cross-origin isolated pages only) the network runs in
   * Web Workers: a leader and threads − 1 helpers on one shared memory, so the page never blocks.
   * Default: navigator.hardwareConcurrency, at most 4 and the model's maxWorkers; 1 when the page is
   * not cross-origin isolated. `1` runs on the calling thread.
   */
  readonly threads?: number;
  /** As in Node: `deterministic` (model.wasm, the default), `relaxed` (model-relaxed.wasm) or `fastest` (alias `auto`). */
  readonly build?: BuildChoice;
  /** Passed to every fetch (credentials, cache mode, abort signal…). */
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
  const manifest = checkManifest(await fetchJson(manifestUrl, opts.fetchInit), manifestUrl.href);

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
  return instantiate(base, checkManifest(await fetchJson(manifestUrl, opts.fetchInit), manifestUrl.href), opts);
}

async function instantiate(base: URL, manifest: Manifest, opts: BrowserLoadOptions): Promise<ModelInstance> {
  const label = base.href;
  const manifestUrl = new URL('model.json', base);
  const chosen = chooseBuild(manifest, opts.build, manifestUrl.href, 'browser does not support relaxed SIMD');
  const wasmUrl = new URL(chosen.file, base);
  const weightsUrl = new URL(manifest.weights.file, base);

  const module = await compileWasm(wasmUrl, opts.fetchInit);
  checkWasmMatchesManifest(module, manifest, wasmUrl.href, manifestUrl.href);

  // weights.bin. Without fetchInit (its signal and credentials cannot be handed to workers), ask for
  // the header alone as a range: a server that answers 206 sends the rest in parallel ranges
  // (load/ranges.ts: Firefox streamed one response at half Chromium's speed); one that ignores the
  // range sends the whole file, streamed below as before.
  const res = await fetchOk(weightsUrl, opts.fetchInit ?? { headers: { Range: `bytes=0-${WEIGHTS_HEADER_BYTES - 1}` } });
  if (res.status === 206 && opts.fetchInit === undefined) return instantiateRanged(res, weightsUrl, manifest, module, chosen.build, opts, label);
  // Read the 64-byte header off the stream first and check it before allocating memory.
  if (!res.body) throw new VggcError(`${weightsUrl.href}: the response has no body`);
  const reader = res.body.getReader();
  try {
    const header = new Uint8Array(WEIGHTS_HEADER_BYTES);
    let headerFilled = 0;
    let rest: Uint8Array = new Uint8Array(0);
    while (headerFilled < WEIGHTS_HEADER_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      const take = Math.min(value.length, WEIGHTS_HEADER_BYTES - headerFilled);
      header.set(value.subarray(0, take), headerFilled);
      headerFilled += take;
      rest = value.subarray(take);
    }
    const payloadBytes = checkWeightsHeader(header.subarray(0, headerFilled), weightsUrl.href, manifest, manifestUrl.href);
    const length = res.headers.get('Content-Length');
    if (length !== null && !res.headers.get('Content-Encoding') && Number(length) !== WEIGHTS_HEADER_BYTES + payloadBytes) {
      throw new VggcError(`${weightsUrl.href}: is ${length} bytes, expected ${WEIGHTS_HEADER_BYTES + payloadBytes} (truncated or padded)`);
    }
    return await createInstance(
      manifest,
      module,
      chosen.build,
      async (memory) => {
        // The memory never grows (initial = maximum), so one view stays valid.
        const dest = new Uint8Array(memory.buffer, manifest.memory.weightsBase, payloadBytes);
        let loaded = 0;
        const copy = (chunk: Uint8Array): void => {
          if (chunk.length === 0) return;
          if (loaded + chunk.length > payloadBytes) throw new VggcError(`${weightsUrl.href}: is longer than the ${WEIGHTS_HEADER_BYTES + payloadBytes} bytes its header announces`);
          dest.set(chunk, loaded);
          loaded += chunk.length;
          opts.onProgress?.(loaded, payloadBytes);
        };
        copy(rest);
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          copy(value);
        }
        if (loaded !== payloadBytes) throw new VggcError(`${weightsUrl.href}: ended after ${loaded} of ${payloadBytes} weight bytes`);
        if (payloadBytes === 0) opts.onProgress?.(0, 0);
      },
      label,
    );
  } finally {
    reader.cancel().catch(() => undefined);
  }
}

/** weights.bin from a server that answers range requests: the header checked, then the payload in parallel ranges. */
async function instantiateRanged(res: Response, weightsUrl: URL, manifest: Manifest, module: WebAssembly.Module, build: BuildName, opts: BrowserLoadOptions, label: string): Promise<ModelInstance> {
  const manifestLabel = new URL('model.json', weightsUrl).href;
  const payloadBytes = checkWeightsHeader(new Uint8Array(await res.arrayBuffer()), weightsUrl.href, manifest, manifestLabel);
  const total = /\/(\d+)$/.exec(res.headers.get('Content-Range') ?? '')?.[1];
  if (total !== undefined && Number(total) !== WEIGHTS_HEADER_BYTES + payloadBytes) {
    throw new VggcError(`${weightsUrl.href}: is ${total} bytes, expected ${WEIGHTS_HEADER_BYTES + payloadBytes} (truncated or padded)`);
  }
  // Workers only pay off for large files, and need a page that may share the memory with them.
  const inWorkers = payloadBytes >= RANGED_MIN_BYTES && threadsUnavailableReason() === null;
  return createInstance(
    manifest,
    module,
    build,
    async (memory) => {
      await copyInRanges(weightsUrl.href, memory, manifest.memory.weightsBase, WEIGHTS_HEADER_BYTES, payloadBytes, inWorkers, (done) => opts.onProgress?.(done, payloadBytes));
      if (payloadBytes === 0) opts.onProgress?.(0, 0);
    },
    label,
  );
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

async function fetchOk(url: URL, init: RequestInit | undefined): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, init);
  } catch (e) {
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
