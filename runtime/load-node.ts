/**
 * Node loader: model.json → checks → compile model.wasm → one memory → weights.bin read straight into
 * it (no second copy of the weights anywhere).
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { VggcError } from './errors.js';
import { checkManifest } from './manifest-check.js';
import { createInstance, readWasmTag, wrapInstance, type ModelInstance, type VggcModel } from './model.js';
import { parseWeightsHeader, WEIGHTS_HEADER_BYTES } from './weights-file.js';

export interface LoadOptions {
  /** Called while weights.bin streams into memory. */
  readonly onProgress?: (loadedBytes: number, totalBytes: number) => void;
}

/** Bytes per read: large enough to stream at disk speed, small enough to report progress. */
const READ_CHUNK = 64 * 1024 * 1024;

export async function loadModel(dir: string, opts: LoadOptions = {}): Promise<VggcModel> {
  return wrapInstance(await loadInstance(dir, opts), dir);
}

/** The low-level view (memory + layer functions): for per-layer timing and per-layer tests. */
export async function loadInstance(dir: string, opts: LoadOptions = {}): Promise<ModelInstance> {
  const manifestPath = join(dir, 'model.json');
  const manifest = checkManifest(readJson(manifestPath), manifestPath);
  const wasmPath = join(dir, manifest.wasm.file);
  const weightsPath = join(dir, manifest.weights.file);

  let module: WebAssembly.Module;
  try {
    module = await WebAssembly.compile(readBytes(wasmPath));
  } catch (e) {
    if (e instanceof VggcError) throw e;
    throw new VggcError(`${wasmPath}: not a valid WebAssembly module (${(e as Error).message})`);
  }
  const tag = readWasmTag(module, wasmPath);
  if (tag.weightsSha256 !== manifest.weights.sha256) {
    throw new VggcError(`${wasmPath}: was compiled for other weights than ${manifestPath} describes (model.wasm and model.json come from different compiles)`);
  }

  const fd = openOrFail(weightsPath);
  try {
    const header = new Uint8Array(WEIGHTS_HEADER_BYTES);
    const got = readSync(fd, header, 0, WEIGHTS_HEADER_BYTES, 0);
    const { payloadBytes, sha256 } = parseWeightsHeader(header.subarray(0, got), weightsPath);
    if (sha256 !== manifest.weights.sha256) throw new VggcError(`${weightsPath}: belongs to a different compile than ${manifestPath} (weights hash ${sha256.slice(0, 12)}…, expected ${manifest.weights.sha256.slice(0, 12)}…)`);
    if (payloadBytes !== manifest.weights.payloadBytes) throw new VggcError(`${weightsPath}: holds ${payloadBytes} bytes of weights, model.json expects ${manifest.weights.payloadBytes}`);
    const size = fstatSync(fd).size;
    if (size !== WEIGHTS_HEADER_BYTES + payloadBytes) throw new VggcError(`${weightsPath}: is ${size} bytes, expected ${WEIGHTS_HEADER_BYTES + payloadBytes} (truncated or padded)`);
    return await createInstance(
      manifest,
      module,
      (memory) => {
        const base = manifest.memory.weightsBase;
        for (let done = 0; done < payloadBytes; ) {
          const len = Math.min(READ_CHUNK, payloadBytes - done);
          const n = readSync(fd, new Uint8Array(memory.buffer, base + done, len), 0, len, WEIGHTS_HEADER_BYTES + done);
          if (n === 0) throw new VggcError(`${weightsPath}: ended after ${done} of ${payloadBytes} weight bytes`);
          done += n;
          opts.onProgress?.(done, payloadBytes);
        }
      },
      dir,
    );
  } finally {
    closeSync(fd);
  }
}

function readBytes(path: string): Uint8Array<ArrayBuffer> {
  try {
    return readFileSync(path) as Uint8Array<ArrayBuffer>;
  } catch (e) {
    throw new VggcError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? e}); is this a folder written by vggc compile?`);
  }
}

function readJson(path: string): unknown {
  const text = new TextDecoder().decode(readBytes(path));
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new VggcError(`${path}: invalid JSON (${(e as Error).message})`);
  }
}

function openOrFail(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (e) {
    throw new VggcError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
}
