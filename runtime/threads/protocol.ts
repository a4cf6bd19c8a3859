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

/** A step that takes longer than this is treated as a hung worker rather than waited on forever. */
export const STEP_TIMEOUT_MS = 120_000;
/**
 * How long a thread polls the control block before it sleeps in Atomics.wait. The steps of one
 * inference follow each other within microseconds, and a thread that goes to sleep (and its vCPU
 * with it) is slow to get going again: sleeping at once made 2 threads no faster than 1 here.
 */
export const SPIN_MS = 5;

/**
 * Posts step `step` over work items [0, items) to `threads − 1` helpers (thread 0 is the caller) and
 * wakes them; returns the end of the caller's own range [0, end).
 */
export function postStep(control: Int32Array, threads: number, step: number, items: number): number {
  const split = (w: number): number => Math.floor((items * w) / threads);
  for (let w = 1; w < threads; w++) {
    control[CONTROL.RANGES + 2 * w] = split(w);
    control[CONTROL.RANGES + 2 * w + 1] = split(w + 1);
  }
  control[CONTROL.STEP] = step;
  Atomics.store(control, CONTROL.PENDING, threads - 1);
  Atomics.add(control, CONTROL.GENERATION, 1);
  Atomics.notify(control, CONTROL.GENERATION);
  return split(1);
}

/** Polls up to SPIN_MS for the helpers; true when they are all done. */
export function pollHelpers(control: Int32Array): boolean {
  const until = performance.now() + SPIN_MS;
  while (Atomics.load(control, CONTROL.PENDING) !== 0 && performance.now() < until);
  return Atomics.load(control, CONTROL.PENDING) === 0;
}

/** Wakes the helpers for the last time: they leave their loop. */
export function shutDown(control: Int32Array): void {
  Atomics.store(control, CONTROL.SHUTDOWN, 1);
  Atomics.add(control, CONTROL.GENERATION, 1);
  Atomics.notify(control, CONTROL.GENERATION);
}

/**
 * A helper thread's life (Node worker_threads and Web Workers alike): say ready, then sleep on the
 * control block, run this worker's range of each step it is woken for, and count itself out.
 */
export function helperLoop(
  control: Int32Array,
  worker: number,
  fns: readonly ((start: number, end: number, worker: number) => void)[],
  ready: () => void,
  failed: (message: string) => void,
): void {
  // Read the generation before saying ready: the first step may be posted the moment we do.
  let generation = Atomics.load(control, CONTROL.GENERATION);
  ready();
  for (;;) {
    const until = performance.now() + SPIN_MS;
    while (Atomics.load(control, CONTROL.GENERATION) === generation && performance.now() < until);
    Atomics.wait(control, CONTROL.GENERATION, generation);
    generation = Atomics.load(control, CONTROL.GENERATION);
    if (Atomics.load(control, CONTROL.SHUTDOWN)) return;
    const start = control[CONTROL.RANGES + 2 * worker];
    const end = control[CONTROL.RANGES + 2 * worker + 1];
    try {
      if (start < end) fns[control[CONTROL.STEP]](start, end, worker);
    } catch (e) {
      Atomics.store(control, CONTROL.ERROR, 1);
      failed(String((e as Error)?.message ?? e));
    }
    if (Atomics.sub(control, CONTROL.PENDING, 1) === 1) Atomics.notify(control, CONTROL.PENDING);
  }
}
