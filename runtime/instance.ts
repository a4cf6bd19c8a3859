/**
 * One wasm instance of model.wasm on one shared memory holding the arena and the weights.
 * Platform-independent: the loaders (load/node.ts, load/browser.ts) compile the module and fill the
 * weights; workers instantiate the same module on the same memory (threads/).
 */
import { VggcError } from './format/errors.js';
import type { Manifest } from './format/manifest.js';
import { RUN_PARAM_IMAGE, RUN_PARAM_IMAGES } from './format/run-params.js';
import type { BuildName } from './model.js';

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

/** One layer function of the instance, with its manifest entry. */
export interface InstanceStep {
  readonly fn: StepFn;
  readonly workItems: number;
  /** Items that share set-up work (ManifestStep.workGrain; 1 when model.json has none). */
  readonly workGrain: number;
  readonly info: Manifest['steps'][number];
}

/** The low-level view of a loaded model: its memory and its layer functions, in order. */
export interface ModelInstance {
  readonly manifest: Manifest;
  readonly build: BuildName;
  readonly module: WebAssembly.Module;
  readonly memory: WebAssembly.Memory;
  readonly steps: readonly InstanceStep[];
}

/** The instance's steps from its functions, in manifest order. */
export function instanceSteps(manifest: Manifest, fns: readonly StepFn[]): InstanceStep[] {
  return manifest.steps.map((info, i) => ({ fn: fns[i], workItems: info.workItems, workGrain: info.workGrain ?? 1, info }));
}

/** Writes the run parameters: the image `per-image` steps work on, the images `batch` steps work on. */
export function runParams(memory: WebAssembly.Memory, manifest: Manifest): { image(n: number): void; images(count: number): void } {
  const view = new Int32Array(memory.buffer, manifest.memory.params, 2);
  return {
    image: (n) => void (view[RUN_PARAM_IMAGE / 4] = n),
    images: (count) => void (view[RUN_PARAM_IMAGES / 4] = count),
  };
}

export async function createInstance(
  manifest: Manifest,
  module: WebAssembly.Module,
  build: BuildName,
  fillWeights: (memory: WebAssembly.Memory) => void | Promise<void>,
  label: string,
): Promise<ModelInstance> {
  // Shared so that worker threads can run layers on the same memory (model.wasm imports it shared).
  let memory: WebAssembly.Memory;
  let instance: WebAssembly.Instance;
  try {
    memory = new WebAssembly.Memory({ initial: manifest.memory.pages, maximum: manifest.memory.pages, shared: true });
    instance = await WebAssembly.instantiate(module, { env: { memory } });
  } catch (e) {
    throw new VggcError(`${label}: model.wasm cannot be instantiated with the memory model.json describes (${String((e as Error)?.message ?? e).split('\n')[0]})`);
  }
  const fns = exportedFunctions(instance, manifest.steps.map((s) => s.function), label);
  const prepare = manifest.prepare ?? [];
  const prepareFns = exportedFunctions(instance, prepare.map((p) => p.function), label);
  await fillWeights(memory);
  // Tensors derived from the weights (f16/int8 Winograd filters): once, before anything runs.
  prepare.forEach((p, i) => prepareFns[i](0, p.workItems, 0));
  // Touch the arena once now: the first inference should not pay for faulting in fresh pages.
  new Uint8Array(memory.buffer, manifest.memory.arenaBase, manifest.memory.arenaBytes).fill(0);
  // Default run parameters: image 0 of a batch of 1 (what callers of single steps, like profilers, mean).
  const params = runParams(memory, manifest);
  params.image(0);
  params.images(1);
  return { manifest, build, module, memory, steps: instanceSteps(manifest, fns) };
}
