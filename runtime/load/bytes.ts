/**
 * Loader from bytes already in memory: for runtimes that have no file system and may not fetch or
 * compile code at run time, such as Cloudflare Workers (workerd), where a Worker imports model.wasm
 * as a compiled WebAssembly.Module and weights.bin as an ArrayBuffer. Platform-neutral (no Node
 * built-ins, no fetch, no Workers), single-threaded: the layers run on the calling thread.
 */
import { VggcError } from '../format/errors.js';
import { checkManifest } from '../format/manifest-check.js';
import { checkWasmMatchesManifest, readWasmTag } from '../format/wasm-tag.js';
import { checkWeightsHeader, WEIGHTS_HEADER_BYTES } from '../format/weights-file.js';
import { createInstance } from '../instance.js';
import { wrapInstance } from '../infer.js';
import type { BuildName, VggcModel } from '../model.js';
import { warmUp } from '../steps.js';

export interface ModelBytes {
  /** model.json, parsed (a Worker imports it as a JSON module) or as text. */
  readonly manifest: unknown;
  /**
   * model.wasm or model-relaxed.wasm: compiled (what a Worker's wasm import gives), or its bytes,
   * which are then compiled here (not allowed in Workers, which refuse code generation at run time).
   */
  readonly wasm: WebAssembly.Module | ArrayBuffer | ArrayBufferView;
  /** weights.bin, header included. */
  readonly weights: ArrayBuffer | ArrayBufferView;
}

export interface BytesLoadOptions {
  /** Names the model in error messages (default "model"). */
  readonly label?: string;
  /** Run every layer once on a few work items before resolving (default true): see load/browser.ts. */
  readonly warmUp?: boolean;
}

/**
 * Loads a compiled model from its three files' contents and runs it on this thread. The build is
 * the one `wasm` holds (its `vggc` section says which); everything else is checked as the other
 * loaders check it: the manifest, that the wasm and the weights belong to it, the weights' size.
 */
export async function loadModelFromBytes(files: ModelBytes, opts: BytesLoadOptions = {}): Promise<VggcModel> {
  const label = opts.label ?? 'model';
  const manifestLabel = `${label}/model.json`;
  const manifest = checkManifest(typeof files.manifest === 'string' ? parseJson(files.manifest, manifestLabel) : files.manifest, manifestLabel);
  const wasmLabel = `${label}/${manifest.wasm.file}`;
  const weightsLabel = `${label}/${manifest.weights.file}`;

  const module = files.wasm instanceof WebAssembly.Module ? files.wasm : await compile(files.wasm, wasmLabel);
  checkWasmMatchesManifest(module, manifest, wasmLabel, manifestLabel);
  const build: BuildName = readWasmTag(module, wasmLabel).kernels.endsWith('-relaxed') ? 'relaxed' : 'deterministic';

  const weights = bytesOf(files.weights);
  const payloadBytes = checkWeightsHeader(weights.subarray(0, WEIGHTS_HEADER_BYTES), weightsLabel, manifest, manifestLabel);
  if (weights.length !== WEIGHTS_HEADER_BYTES + payloadBytes) throw new VggcError(`${weightsLabel}: is ${weights.length} bytes, expected ${WEIGHTS_HEADER_BYTES + payloadBytes} (truncated or padded)`);

  const inst = await createInstance(
    manifest,
    module,
    build,
    (memory) => new Uint8Array(memory.buffer, manifest.memory.weightsBase, payloadBytes).set(weights.subarray(WEIGHTS_HEADER_BYTES)),
    label,
  );
  if (opts.warmUp !== false) await warmUp(inst);
  return wrapInstance(inst, label);
}

function bytesOf(b: ArrayBuffer | ArrayBufferView): Uint8Array {
  return b instanceof ArrayBuffer ? new Uint8Array(b) : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

async function compile(bytes: ArrayBuffer | ArrayBufferView, label: string): Promise<WebAssembly.Module> {
  try {
    return await WebAssembly.compile(bytesOf(bytes) as Uint8Array<ArrayBuffer>);
  } catch (e) {
    throw new VggcError(`${label}: cannot be compiled here (${String((e as Error)?.message ?? e).split('\n')[0]}); pass a compiled WebAssembly.Module where run-time compilation is not allowed`);
  }
}

function parseJson(text: string, label: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new VggcError(`${label}: invalid JSON (${(e as Error).message})`);
  }
}
