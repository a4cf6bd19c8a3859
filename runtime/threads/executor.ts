/** What splits a step's work items between threads: the Node pool and the browser leader both are one. */
export interface StepExecutor {
  readonly threads: number;
  /**
   * Runs step `step` over work items [0, items), which come in grains of `grain` items that share
   * set-up work (ManifestStep.workGrain), this thread's share through `own`. Returns a promise only
   * when it had to wait for other threads asynchronously.
   */
  run(step: number, items: number, grain: number, own: (start: number, end: number) => void): void | Promise<void>;
  terminate(): Promise<void>;
}
