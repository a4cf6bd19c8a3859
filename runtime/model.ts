/**
 * The public type of a loaded model, the same in Node (load/node.ts) and in browsers
 * (load/browser.ts). How it runs: instance.ts (the wasm instance on its memory), infer.ts (the infer
 * loop), threads/ (splitting each layer between threads).
 */
import type { Manifest } from './format/manifest.js';

/** `deterministic`: model.wasm, bit-identical everywhere. `relaxed`: model-relaxed.wasm (fused multiply-add where the hardware has one). */
export type BuildName = 'deterministic' | 'relaxed';

export interface VggcModel {
  readonly manifest: Manifest;
  /** [channels, height, width] of one input image. */
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  /** Threads that run each layer (1 = the calling thread only). */
  readonly threads: number;
  /** Which wasm build runs. */
  readonly build: BuildName;
  /**
   * Runs the network on `n` images (N×C×H×W float32, NCHW like PyTorch) and returns the N×numClasses
   * logits. Calls are queued: concurrent calls never mix their results.
   */
  infer(input: Float32Array, n?: number): Promise<Float32Array>;
  /** Releases the wasm memory; later infer() calls reject. */
  dispose(): void;
}
