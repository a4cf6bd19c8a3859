/** What loadModel's onProgress receives, in Node and browsers alike. */
export interface LoadProgress {
  /** Weight bytes in memory so far: never decreases, ends at totalBytes. */
  readonly loadedBytes: number;
  /** The weights payload's size (model.json `weights.payloadBytes`). */
  readonly totalBytes: number;
  /** Of loadedBytes, how many came from the browser's Cache API rather than the network (0 in Node). */
  readonly cachedBytes: number;
}

export type ProgressCallback = (progress: LoadProgress) => void;
