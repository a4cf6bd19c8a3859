/**
 * Loader from bytes already in memory: for runtimes that have no file system and may not fetch or
 * compile code at run time, such as Cloudflare Workers (workerd), where a Worker imports model.wasm
 * as a compiled WebAssembly.Module and the weights as ArrayBuffers. Platform-neutral (no Node
 * built-ins, no fetch, no Workers), single-threaded: the layers run on the calling thread.
 */
import { VggcError } from '../format/errors.js';
import { checkManifest } from '../format/manifest-check.js';
import { checkWasmMatchesManifest, isRelaxedTag, readWasmTag } from '../format/wasm-tag.js';
import { shardCheck, shardSizeError, type VerifyOption } from '../format/shards.js';
import { verifySha256 } from './verify-sha256.js';
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
  /**
   * The weights payload: one buffer holding every shard in order (weights.bin of an unsharded
   * model, or the shards concatenated), or one buffer per shard in model.json's order.
   */
  readonly weights: ArrayBuffer | ArrayBufferView | readonly (ArrayBuffer | ArrayBufferView)[];
}

export interface BytesLoadOptions {
  /** Names the model in error messages (default "model"). */
  readonly label?: string;
  /** Run every layer once on a few work items before resolving (default true): see load/browser.ts. */
  readonly warmUp?: boolean;
  /**
   * Check each shard's SHA-256 (crypto.subtle) before anything runs (default true; `'sha256'` is the
   * same here: Workers may not compile the XXH64 module at run time). `false` skips the check.
   */
  readonly verify?: VerifyOption;
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

  const module = files.wasm instanceof WebAssembly.Module ? files.wasm : await compile(files.wasm, wasmLabel);
  checkWasmMatchesManifest(module, manifest, wasmLabel, manifestLabel);
  const build: BuildName = isRelaxedTag(readWasmTag(module, wasmLabel)) ? 'relaxed' : 'deterministic';

  const shards = manifest.weights.shards;
  const payloadBytes = manifest.weights.payloadBytes;
  // Each shard's bytes, from one buffer or one per shard.
  let parts: Uint8Array[];
  if (Array.isArray(files.weights)) {
    if (files.weights.length !== shards.length) throw new VggcError(`${label}: got ${files.weights.length} weight buffers, ${manifestLabel} lists ${shards.length} shards`);
    parts = files.weights.map((b: ArrayBuffer | ArrayBufferView, i: number) => {
      const bytes = bytesOf(b);
      if (bytes.length !== shards[i].bytes) throw shardSizeError(`${label}/${shards[i].file}`, bytes.length, shards[i].bytes);
      return bytes;
    });
  } else {
    const all = bytesOf(files.weights as ArrayBuffer | ArrayBufferView);
    if (all.length !== payloadBytes) throw new VggcError(`${label}: the weights are ${all.length} bytes, ${manifestLabel} expects ${payloadBytes} (truncated or padded)`);
    parts = shards.map((s) => all.subarray(s.offset, s.offset + s.bytes));
  }
  if (shardCheck(opts.verify) !== 'none') {
    for (let i = 0; i < shards.length; i++) await verifySha256(parts[i], shards[i].sha256, `${label}/${shards[i].file}`, manifestLabel);
  }

  const inst = await createInstance(
    manifest,
    module,
    build,
    (memory) => shards.forEach((s, i) => new Uint8Array(memory.buffer, manifest.memory.weightsBase + s.offset, s.bytes).set(parts[i])),
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
