/**
 * The public type of a loaded model, the same in Node (load/node.ts) and in browsers
 * (load/browser.ts). How it runs: instance.ts (the wasm instance on its memory), infer.ts (the infer
 * loop), threads/ (splitting each layer between threads).
 */
import type { Manifest } from './format/manifest.js';

/** `deterministic`: model.wasm, bit-identical everywhere. `relaxed`: model-relaxed.wasm (fused multiply-add where the hardware has one). */
export type BuildName = 'deterministic' | 'relaxed';

/** One named output as infer()/inferAll() return it. */
export interface ModelOutput {
  readonly name: string;
  /** Per image, in its layout: [c, h, w] (NCHW) or [h, w, c] (NHWC) for maps, [features] for vectors. */
  readonly shape: readonly number[];
  /** Maps as NCHW (PyTorch's) or NHWC (TF.js's); vectors as features, a flattened map in Keras's (h, w, c) order as features-hwc. */
  readonly layout: 'nchw' | 'nhwc' | 'features' | 'features-hwc';
}

/** An output's values for a batch: `shape` has the batch size first. Copies, valid after the next call. */
export interface OutputTensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

export interface VggcModel {
  readonly manifest: Manifest;
  /** [channels, height, width] of one input image. */
  readonly inputShape: readonly [number, number, number];
  /** Values per image of infer()'s result: the classes of a classifier, the size of a first named output. */
  readonly numClasses: number;
  /** The named outputs, in model.json's order; infer() returns the first. */
  readonly outputs: readonly ModelOutput[];
  /** Threads that run each layer (1 = the calling thread only). */
  readonly threads: number;
  /** Which wasm build runs. */
  readonly build: BuildName;
  /**
   * Runs the network on `n` images (N×C×H×W float32, NCHW like PyTorch) and returns the N×numClasses
   * logits. Calls are queued: concurrent calls never mix their results.
   */
  infer(input: Float32Array, n?: number): Promise<Float32Array>;
  /** Runs the network once and returns every named output by name. */
  inferAll(input: Float32Array, n?: number): Promise<Record<string, OutputTensor>>;
  /**
   * Releases the wasm memory and stops the model's threads; later infer() calls reject. Resolves
   * once the threads have stopped: await it before process.exit(), which otherwise races their
   * shutdown (Node 26 was seen to hang in exit so).
   */
  dispose(): Promise<void>;
}
