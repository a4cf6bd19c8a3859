import type { StepWork } from './protocol.js';

/** What splits a step's work items between threads: the Node pool and the browser leader both are one. */
export interface StepExecutor {
  readonly threads: number;
  /**
   * Runs step `step` over its work items (protocol.ts, StepWork; the grain is ManifestStep.workGrain),
   * this thread's share through `own`. Returns a promise only when it had to wait for other threads
   * asynchronously. If `own` throws, the executor is broken from then on (its helpers may still be
   * in the step) and rethrows.
   */
  run(step: number, work: StepWork, own: (start: number, end: number) => void): void | Promise<void>;
  terminate(): Promise<void>;
}
