/** Layout of the Int32 control block shared by the main thread and the workers. */
export const CONTROL = {
  /** Bumped by the main thread to start a step (workers Atomics.wait on it). */
  GENERATION: 0,
  /** Workers still running the current step; the last one to finish notifies. */
  PENDING: 1,
  /** Index of the step to run. */
  STEP: 2,
  /** Set by a worker whose layer function threw. */
  ERROR: 3,
  /** Set when the pool shuts down. */
  SHUTDOWN: 4,
  /** [start, end) of work items for worker w at RANGES + 2w. */
  RANGES: 8,
} as const;

export const controlInts = (workers: number): number => CONTROL.RANGES + 2 * workers;
