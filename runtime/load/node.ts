/**
 * Node loader: model.json → checks → compile model.wasm → one memory → the weight shards read
 * straight into it and verified (load/shards-node.ts; no second copy of the weights anywhere).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VggcError } from '../format/errors.js';
import { checkManifest } from '../format/manifest-check.js';
import type { Manifest } from '../format/manifest.js';
import { checkWasmMatchesManifest } from '../format/wasm-tag.js';
import type { ProgressCallback } from '../format/progress.js';
import { shardCheck, type VerifyOption } from '../format/shards.js';
import { closeShards, openShards, readShards } from './shards-node.js';
import { createInstance, type ModelInstance } from '../instance.js';
import { wrapInstance } from '../infer.js';
import type { VggcModel } from '../model.js';
import { warmUp } from '../steps.js';
import { WorkerPool } from '../threads/node-pool.js';
import { resolveThreads } from '../threads/policy.js';
import { chooseBuild, type BuildChoice } from './build.js';
import { availableParallelism } from 'node:os';
import v8 from 'node:v8';
import { createHash } from 'node:crypto';

export interface LoadOptions {
  /** Called as the weight shards arrive in memory: loadedBytes never decreases and ends at totalBytes. */
  readonly onProgress?: ProgressCallback;
  /**
   * Check every shard against the XXH64 model.json records while it is read (default true); a
   * mismatch fails the load with an error naming the shard. `'sha256'` checks SHA-256 instead
   * (slower; XXH64 catches damage, SHA-256 also a forged shard). `false` skips the check.
   */
  readonly verify?: VerifyOption;
  /**
   * Threads that run each layer: the calling thread plus threads − 1 worker_threads on the same
   * memory. Default: the machine's available cores, at most the model's maxWorkers. 1 = no workers.
   */
  readonly threads?: number;
  /**
   * `deterministic` (default): model.wasm, bit-identical results on every engine and machine.
   * `relaxed`: model-relaxed.wasm (fused multiply-add where the hardware has it; faster, last-bit
   * differences between engines and machines), an error where the engine lacks relaxed SIMD.
   * `fastest` (or its old name `auto`): relaxed where the engine has it, else deterministic.
   */
  readonly build?: BuildChoice;
}

export async function loadModel(dir: string, opts: LoadOptions = {}): Promise<VggcModel> {
  const inst = await loadInstance(dir, opts);
  const requested = resolveThreads(opts.threads, availableParallelism(), inst.manifest, dir);
  if (requested === 1) {
    await warmUp(inst);
    return wrapInstance(inst, dir);
  }
  const pool = await WorkerPool.start(inst.module, inst.memory, inst.steps.map((s) => s.info.function), requested);
  await warmUp(inst, pool);
  return wrapInstance(inst, dir, pool);
}

/** The low-level view (memory + layer functions): for per-layer timing and per-layer tests. */
export async function loadInstance(dir: string, opts: LoadOptions = {}): Promise<ModelInstance> {
  const manifestPath = join(dir, 'model.json');
  const manifest = readManifest(manifestPath);
  const chosen = chooseBuild(manifest, opts.build, manifestPath, 'JavaScript engine does not support relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd)');
  const wasmPath = join(dir, chosen.file);

  let module: WebAssembly.Module;
  const wasmBytes = readBytes(wasmPath);
  // Tens of KB: hashing it is cheap and catches a damaged or swapped model.wasm before it runs.
  if (createHash('sha256').update(wasmBytes).digest('hex') !== chosen.sha256) {
    throw new VggcError(`${wasmPath}: does not match the SHA-256 that ${manifestPath} records (damaged, or from another compile)`);
  }
  try {
    compileOptimizedFromTheStart();
    module = await WebAssembly.compile(wasmBytes);
  } catch (e) {
    if (e instanceof VggcError) throw e;
    throw new VggcError(`${wasmPath}: not a valid WebAssembly module (${(e as Error).message})`);
  }
  checkWasmMatchesManifest(module, manifest, wasmPath, manifestPath);

  const check = shardCheck(opts.verify);
  const shards = openShards(dir, manifest);
  try {
    return await createInstance(manifest, module, chosen.build, (memory) => readShards(shards, memory, manifest, manifestPath, check, opts.onProgress), dir);
  } finally {
    closeShards(shards);
  }
}

/**
 * V8 first runs a wasm function in its baseline tier (Liftoff) and never switches a running call to
 * optimised code: every layer would run its whole first call at baseline speed (docs/performance.md,
 * "V8 tiers": 56 ms instead of 20 ms for a 1-GFLOP kernel). vggc's module is small, so compiling it straight with the
 * optimising tier costs little; the flag applies to wasm modules compiled after it in this process.
 */
let optimizedFlagSet = false;
function compileOptimizedFromTheStart(): void {
  if (optimizedFlagSet) return;
  v8.setFlagsFromString('--no-liftoff');
  optimizedFlagSet = true;
}

function readBytes(path: string): Uint8Array<ArrayBuffer> {
  try {
    return readFileSync(path) as Uint8Array<ArrayBuffer>;
  } catch (e) {
    throw new VggcError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? e}); is this a folder written by vggc compile?`);
  }
}

/** A folder's model.json, read and checked (checkManifest): one-line errors for a missing, invalid or damaged file. */
export function readManifest(manifestPath: string): Manifest {
  return checkManifest(readJson(manifestPath), manifestPath);
}

function readJson(path: string): unknown {
  const text = new TextDecoder().decode(readBytes(path));
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new VggcError(`${path}: invalid JSON (${(e as Error).message})`);
  }
}
