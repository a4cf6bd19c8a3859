/**
 * A loaded model: one wasm instance on one memory holding arena and weights. Platform-independent:
 * the loaders (Node: load-node.ts) provide the compiled module and fill the weights.
 */
import { VggcError } from './errors.js';
import type { Manifest } from './manifest.js';

/** Name of model.wasm's custom section that names the weights it was compiled for. */
export const WASM_TAG_SECTION = 'vggc';

export interface VggcModel {
  readonly manifest: Manifest;
  /** [channels, height, width] of one input image. */
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  /** Threads that run each layer (1 = the calling thread only). */
  readonly threads: number;
  /** `deterministic` (model.wasm, bit-identical everywhere) or `relaxed` (model-relaxed.wasm). */
  readonly build: 'deterministic' | 'relaxed';
  /**
   * Runs the network on `n` images (N×C×H×W float32, NCHW like PyTorch) and returns the N×numClasses
   * logits. Calls are queued: concurrent calls never mix their results.
   */
  infer(input: Float32Array, n?: number): Promise<Float32Array>;
  /** Releases the wasm memory; later infer() calls reject. */
  dispose(): void;
}

/** A layer function: runs work items [start, end) using worker `worker`'s scratch. */
/** Every exported kernel function: work items [start, end), run as worker `worker` (its scratch). */
export type StepFn = (start: number, end: number, worker: number) => void;

/** The named functions of an instance of model.wasm, each checked to exist. */
export function exportedFunctions(instance: WebAssembly.Instance, names: readonly string[], label: string): StepFn[] {
  return names.map((name) => {
    const fn = instance.exports[name];
    if (typeof fn !== 'function') throw new VggcError(`${label}: model.wasm has no function ${name} that model.json lists`);
    return fn as StepFn;
  });
}

/** infer()'s argument checks, shared by the in-thread model and the browser's worker pool. */
export function checkInferInput(input: unknown, n: number, shape: readonly [number, number, number]): asserts input is Float32Array {
  const [c, h, w] = shape;
  if (!(input instanceof Float32Array)) throw new VggcError(`infer: input must be a Float32Array, found ${describeValue(input)}`);
  if (!Number.isSafeInteger(n) || n < 1) throw new VggcError(`infer: n must be a positive integer, found ${String(n)}`);
  if (input.length !== n * c * h * w) throw new VggcError(`infer: input has ${input.length} floats but ${n} image(s) of ${c}×${h}×${w} need ${n * c * h * w}`);
}

/**
 * Everything in model.json that the compiled kernels have baked in as constants: the step list and
 * the memory layout. model.wasm carries its own copy in the `vggc` section, so a model.json edited
 * by hand (or taken from another compile) is refused at load instead of making kernels read or
 * write the wrong memory.
 */
export function layoutOf(m: Manifest): unknown {
  return {
    steps: m.steps.map((s) => [s.function, s.workItems, s.phase]),
    ...(m.prepare?.length ? { prepare: m.prepare.map((p) => [p.function, p.workItems]) } : {}),
    memory: [m.memory.pages, m.memory.arenaBase, m.memory.arenaBytes, m.memory.weightsBase, m.memory.params, m.memory.maxWorkers, m.memory.shared],
    input: [m.input.offset, ...m.input.shape],
    output: [m.output.offset, m.output.numClasses, m.output.imageStride],
    maxBatch: m.maxBatch,
    weights: [m.weights.headerBytes, m.weights.payloadBytes, m.weights.sha256],
  };
}

/** model.wasm must have been compiled for exactly this model.json (same weights, same layout). */
export function checkWasmMatchesManifest(module: WebAssembly.Module, manifest: Manifest, wasmLabel: string, manifestLabel: string): void {
  const tag = readWasmTag(module, wasmLabel);
  if (tag.weightsSha256 !== manifest.weights.sha256) {
    throw new VggcError(`${wasmLabel}: was compiled for other weights than ${manifestLabel} describes (model.wasm and model.json come from different compiles)`);
  }
  if (JSON.stringify(tag.layout) !== JSON.stringify(layoutOf(manifest))) {
    throw new VggcError(`${manifestLabel}: its steps or memory layout differ from what ${wasmLabel} was compiled for (edited by hand, or from another compile)`);
  }
}

export function readWasmTag(module: WebAssembly.Module, file: string): { weightsSha256: string; kernels: string; layout?: unknown } {
  const sections = WebAssembly.Module.customSections(module, WASM_TAG_SECTION);
  if (sections.length !== 1) throw new VggcError(`${file}: not a vggc model (no "${WASM_TAG_SECTION}" section)`);
  try {
    const tag = JSON.parse(new TextDecoder().decode(sections[0]));
    if (typeof tag.weightsSha256 !== 'string') throw new Error('no weightsSha256');
    return tag;
  } catch {
    throw new VggcError(`${file}: the "${WASM_TAG_SECTION}" section is damaged`);
  }
}

/** One layer function of the instance, with its manifest entry. */
export interface InstanceStep {
  readonly fn: StepFn;
  readonly workItems: number;
  readonly info: Manifest['steps'][number];
}

/** The low-level view of a loaded model: its memory and its layer functions, in order. */
export interface ModelInstance {
  readonly manifest: Manifest;
  /** Which wasm build runs: model.wasm (deterministic) or model-relaxed.wasm. */
  readonly build: 'deterministic' | 'relaxed';
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  readonly steps: readonly InstanceStep[];
}

export async function createInstance(
  manifest: Manifest,
  module: WebAssembly.Module,
  build: ModelInstance['build'],
  fillWeights: (memory: WebAssembly.Memory) => void | Promise<void>,
  label: string,
): Promise<ModelInstance> {
  // Shared so that worker threads can run layers on the same memory (model.wasm imports it shared).
  let memory: WebAssembly.Memory;
  let instance: WebAssembly.Instance;
  try {
    memory = new WebAssembly.Memory({ initial: manifest.memory.pages, maximum: manifest.memory.pages, shared: manifest.memory.shared });
    instance = await WebAssembly.instantiate(module, { env: { memory } });
  } catch (e) {
    throw new VggcError(`${label}: model.wasm cannot be instantiated with the memory model.json describes (${String((e as Error)?.message ?? e).split('\n')[0]})`);
  }
  const fns = exportedFunctions(instance, manifest.steps.map((s) => s.function), label);
  const steps = manifest.steps.map((info, i) => ({ fn: fns[i], workItems: info.workItems, info }));
  const prepare = manifest.prepare ?? [];
  const prepareFns = exportedFunctions(instance, prepare.map((p) => p.function), label);
  await fillWeights(memory);
  // Tensors derived from the weights (f16/int8 Winograd filters): once, before anything runs.
  prepare.forEach((p, i) => prepareFns[i](0, p.workItems, 0));
  // Touch the arena once now: the first inference should not pay for faulting in fresh pages.
  new Uint8Array(memory.buffer, manifest.memory.arenaBase, manifest.memory.arenaBytes).fill(0);
  // Default run parameters: image 0 of a batch of 1 (what callers of single steps, like profilers, mean).
  new Int32Array(memory.buffer, manifest.memory.params, 2).set([0, 1]);
  return { manifest, build, module, memory, steps };
}

/**
 * Runs every layer once on a few work items (one per thread), so that the first real inference does
 * not pay for each thread's first touch of its code, stack and scratch: measured on VGG-11 with 2
 * threads, the first inference went from 1.5× to 1.0× the steady time for ~75 ms more load time.
 * The activations it leaves behind are overwritten by the next inference.
 */
export async function warmUp(inst: ModelInstance, executor?: StepExecutor): Promise<void> {
  const threads = executor?.threads ?? 1;
  for (const [i, step] of inst.steps.entries()) {
    const items = Math.min(step.workItems, threads);
    if (executor) await executor.run(i, items, (start, end) => step.fn(start, end, 0));
    else step.fn(0, items, 0);
  }
}

/**
 * The thread count a loader runs `manifest`'s model with: `requested`, or `fallback` when not given;
 * a positive integer no larger than the maxWorkers the model's scratch was planned for.
 */
export function resolveThreads(requested: number | undefined, fallback: number, manifest: Manifest, label: string): number {
  const max = manifest.memory.maxWorkers;
  const threads = requested ?? Math.min(fallback, max);
  if (!Number.isSafeInteger(threads) || threads < 1) throw new VggcError(`loadModel: threads must be a positive integer, found ${String(requested)}`);
  if (threads > max) throw new VggcError(`loadModel: threads is ${threads} but ${label} was compiled for at most ${max}`);
  return threads;
}

/** Runs one step's work items, possibly split between threads; the caller's own share via `own`. */
export interface StepExecutor {
  readonly threads: number;
  /** Returns a promise only when it had to wait for other threads asynchronously. */
  run(step: number, items: number, own: (start: number, end: number) => void): void | Promise<void>;
  terminate(): Promise<void>;
}

/**
 * `copyInput: false` is for a caller that hands over an input nobody else holds (the browser's leader
 * worker receives it transferred): infer() then skips its defensive copy.
 */
export function wrapInstance(inst: ModelInstance, label: string, executor?: StepExecutor, { copyInput = true } = {}): VggcModel {
  const { manifest, steps } = inst;
  let disposed = false;
  const [c, h, w] = manifest.input.shape;
  const imageFloats = c * h * w;
  const numClasses = manifest.output.numClasses;
  let queue: Promise<unknown> = Promise.resolve();

  // The memory has a fixed size (initial = maximum pages), so views made once stay valid.
  const buffer = inst.memory.buffer;
  const params = new Int32Array(buffer, manifest.memory.params, 2);
  const inputView = new Float32Array(buffer, manifest.input.offset, imageFloats);
  const outputViews = Array.from({ length: manifest.maxBatch }, (_, n) => new Float32Array(buffer, manifest.output.offset + n * manifest.output.imageStride * 4, numClasses));
  // One runner per step, built once: it runs the step's work items, split between threads when there
  // is an executor, and returns a promise only when it had to wait for them asynchronously.
  const runners = steps.map((step, index): (() => void | Promise<void>) => {
    if (!executor) return () => step.fn(0, step.workItems, 0);
    const own = (start: number, end: number): void => step.fn(start, end, 0);
    return () => executor.run(index, step.workItems, own);
  });
  const imageRunners = runners.filter((_, i) => steps[i].info.phase === 'image');
  const batchRunners = runners.filter((_, i) => steps[i].info.phase === 'batch');
  const runAll = async (list: readonly (() => void | Promise<void>)[]): Promise<void> => {
    for (const run of list) {
      const waiting = run();
      if (waiting) await waiting;
    }
  };

  /** Up to maxBatch images: the convolutional steps image by image, then the classifier once for all. */
  const runGroup = async (images: Float32Array, count: number, out: Float32Array): Promise<void> => {
    for (let n = 0; n < count; n++) {
      inputView.set(images.subarray(n * imageFloats, (n + 1) * imageFloats));
      params[0] = n;
      await runAll(imageRunners);
    }
    params[1] = count;
    await runAll(batchRunners);
    for (let n = 0; n < count; n++) out.set(outputViews[n], n * numClasses);
  };

  const model: VggcModel = {
    manifest,
    inputShape: [c, h, w],
    numClasses,
    threads: executor?.threads ?? 1,
    build: inst.build,
    infer(input: Float32Array, n = 1): Promise<Float32Array> {
      // Calls are queued; copy now so a caller reusing its buffer cannot change a pending call's input.
      const snapshot = copyInput && input instanceof Float32Array ? input.slice() : input;
      const run = async (): Promise<Float32Array> => {
        if (disposed) throw new VggcError(`${label}: infer() called after dispose()`);
        const input = snapshot;
        checkInferInput(input, n, [c, h, w]);
        const logits = new Float32Array(n * numClasses);
        try {
          for (let first = 0; first < n; first += manifest.maxBatch) {
            const count = Math.min(manifest.maxBatch, n - first);
            await runGroup(input.subarray(first * imageFloats, (first + count) * imageFloats), count, logits.subarray(first * numClasses, (first + count) * numClasses));
          }
        } catch (e) {
          // Kernels trap only if the model folder lies about its own layout (the load checks make that unlikely).
          if (e instanceof WebAssembly.RuntimeError) throw new VggcError(`${label}: model.wasm trapped while running (${e.message}); the model folder is damaged`);
          throw e;
        }
        return logits;
      };
      const result = queue.then(run, run);
      queue = result.catch(() => undefined);
      return result;
    },
    dispose() {
      disposed = true;
      void executor?.terminate();
    },
  };
  return model;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}
