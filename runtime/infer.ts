/**
 * The infer loop over one instance: a batch is cut into groups of up to maxBatch images; the
 * `image` steps run for each image of a group (after its pixels and index are written), then the
 * `batch` steps (the classifier) once for the whole group; the named outputs are copied out as they
 * become readable (outputs.ts). Calls are queued so that their results never mix. Used on this thread in Node and in a page without threads, and by the browser's leader
 * worker (threads/browser-worker.ts).
 */
import { VggcError } from './format/errors.js';
import { runParams, type ModelInstance } from './instance.js';
import type { ModelOutput, OutputTensor, VggcModel } from './model.js';
import { outputCopiers } from './outputs.js';
import { runAll, stepRunners } from './steps.js';
import type { StepExecutor } from './threads/executor.js';

/** infer()'s argument checks, shared by the in-thread model and the browser's worker pool. */
export function checkInferInput(input: unknown, n: number, shape: readonly [number, number, number]): asserts input is Float32Array {
  const [c, h, w] = shape;
  if (!(input instanceof Float32Array)) throw new VggcError(`infer: input must be a Float32Array, found ${describeValue(input)}`);
  if (!Number.isSafeInteger(n) || n < 1) throw new VggcError(`infer: n must be a positive integer, found ${String(n)}`);
  if (input.length !== n * c * h * w) throw new VggcError(`infer: input has ${input.length} floats but ${n} image(s) of ${c}×${h}×${w} need ${n * c * h * w}`);
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
  let queue: Promise<unknown> = Promise.resolve();

  // The memory has a fixed size (initial = maximum pages), so views made once stay valid.
  const buffer = inst.memory.buffer;
  const params = runParams(inst.memory, manifest);
  const inputView = new Float32Array(buffer, manifest.input.offset, imageFloats);
  const copiers = outputCopiers(buffer, manifest.outputs);
  // Each copier with the index of its output array, split by when it can be read.
  const indexed = copiers.map((copier, index) => ({ copier, index }));
  const imageCopiers = indexed.filter((o) => o.copier.phase === 'image');
  const batchCopiers = indexed.filter((o) => o.copier.phase === 'batch');
  const runners = stepRunners(inst, executor);
  const imageRunners = runners.filter((_, i) => steps[i].info.phase === 'image');
  const batchRunners = runners.filter((_, i) => steps[i].info.phase === 'batch');

  /**
   * Up to maxBatch images: the per-image steps image by image (reading that image's per-image
   * outputs after them), then the classifier once for all (and the per-batch outputs).
   */
  const runGroup = async (images: Float32Array, count: number, first: number, out: Float32Array[]): Promise<void> => {
    for (let n = 0; n < count; n++) {
      inputView.set(images.subarray(n * imageFloats, (n + 1) * imageFloats));
      params.image(n);
      await runAll(imageRunners);
      for (const { copier, index } of imageCopiers) copier.copy(out[index], n, first + n);
    }
    if (batchRunners.length === 0) return;
    params.images(count);
    await runAll(batchRunners);
    for (const { copier, index } of batchCopiers) for (let n = 0; n < count; n++) copier.copy(out[index], n, first + n);
  };

  /** One queued run: every output for `n` images. */
  const run = (input: Float32Array, n: number): Promise<Float32Array[]> => {
    // Calls are queued; copy now so a caller reusing its buffer cannot change a pending call's input.
    const snapshot = copyInput && input instanceof Float32Array ? input.slice() : input;
    const task = async (): Promise<Float32Array[]> => {
      if (disposed) throw new VggcError(`${label}: infer() called after dispose()`);
      const input = snapshot;
      checkInferInput(input, n, [c, h, w]);
      const out = copiers.map((o) => new Float32Array(n * o.size));
      try {
        for (let first = 0; first < n; first += manifest.maxBatch) {
          const count = Math.min(manifest.maxBatch, n - first);
          await runGroup(input.subarray(first * imageFloats, (first + count) * imageFloats), count, first, out);
        }
      } catch (e) {
        if (disposed) throw new VggcError(`${label}: dispose() was called while this infer() was running`);
        // Kernels trap only if the model folder lies about its own layout (the load checks make that unlikely).
        if (e instanceof WebAssembly.RuntimeError) throw new VggcError(`${label}: model.wasm trapped while running (${e.message}); the model folder is damaged`);
        throw e;
      }
      return out;
    };
    const result = queue.then(task, task);
    queue = result.catch(() => undefined);
    return result;
  };

  return {
    manifest,
    inputShape: [c, h, w],
    numClasses: copiers[0].size,
    outputs: copiers.map((o) => o.info),
    threads: executor?.threads ?? 1,
    build: inst.build,
    infer: (input, n = 1) => run(input, n).then((out) => out[0]),
    inferAll: (input, n = 1) => run(input, n).then((out) => namedOutputs(copiers.map((o) => o.info), out, n)),
    dispose() {
      disposed = true;
      // Never rejects: a model being thrown away has nothing left to report.
      return (executor?.terminate() ?? Promise.resolve()).then(
        () => undefined,
        () => undefined,
      );
    },
  };
}

/** The arrays of one run by output name, each with the batch size first in its shape. */
export function namedOutputs(outputs: readonly ModelOutput[], data: readonly Float32Array[], n: number): Record<string, OutputTensor> {
  return Object.fromEntries(outputs.map((o, i) => [o.name, { data: data[i], shape: [n, ...o.shape] }]));
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}
