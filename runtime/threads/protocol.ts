/**
 * Layout of the Int32 control block shared by the main thread and the workers. Work is shared per step
 * by claims: every thread starts with a contiguous range of the step's work items (the even split a
 * static schedule would give it) and claims chunks of it from the front; a thread whose range is used
 * up claims chunks from the back of the others' ranges. On a quiet machine that is the static split;
 * when one core is held up (another tenant, a slow wake-up), the other takes over the end of its work
 * instead of waiting for it at the barrier (docs/performance.md, "Threads").
 */
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
  /** Items per claim this step: a multiple of the step's grain, and claims end on multiples of it. */
  CHUNK: 5,
  /** 1: a thread whose range is used up takes from the others'; 0: each runs its own range only (warm-up). */
  STEAL: 6,
  /**
   * From here (byte 32, 8-byte aligned), one 64-bit word per thread w: the items of w's range not yet
   * claimed, front (high 32 bits) to back (low 32 bits). Claims are compare-exchanges of the word.
   */
  RANGES: 8,
} as const;

export const controlInts = (threads: number): number => CONTROL.RANGES + 2 * threads;

/** The per-thread range words of a control block (a view on the same shared memory): one per thread of the block. */
export const rangeWords = (control: Int32Array): BigInt64Array => new BigInt64Array(control.buffer, control.byteOffset + CONTROL.RANGES * 4, (control.length - CONTROL.RANGES) / 2);

/**
 * Claims per thread a step is cut into, at least (up to twice as many, from the rounding down of the
 * chunk; fewer when the step has fewer grains): enough that a thread held up leaves at most about an
 * eighth of its share to the other, few enough that the claims (one compare-exchange each) cost
 * nothing beside the work.
 */
export const CLAIMS_PER_THREAD = 8;

/** Items per claim for a step of `items` items whose items come in grains of `grain` (manifest.ts, workGrain). */
export function claimChunk(items: number, grain: number, threads: number): number {
  return grain * Math.max(1, Math.floor(items / (grain * threads * CLAIMS_PER_THREAD)));
}

/** One step's work: `items` independent items in grains of `grain`; `steal: false` keeps every thread on its own range. */
export interface StepWork {
  readonly items: number;
  readonly grain: number;
  readonly steal: boolean;
}

/** A step that takes longer than this is treated as a hung worker rather than waited on forever. */
export const STEP_TIMEOUT_MS = 120_000;
/**
 * How long a thread polls the control block before it sleeps in Atomics.wait. The steps of one
 * inference follow each other within microseconds, and a thread that goes to sleep (and its vCPU
 * with it) is slow to get going again: sleeping at once made 2 threads no faster than 1 here.
 */
export const SPIN_MS = 5;

const pack = (front: number, back: number): bigint => (BigInt(front) << 32n) | BigInt(back);
const frontOf = (word: bigint): number => Number(word >> 32n);
const backOf = (word: bigint): number => Number(word & 0xffffffffn);

/**
 * Posts step `step` over its work items [0, items) to the helpers (thread 0 is the caller; one range
 * word per thread) and wakes them. Each thread's range starts as the even split
 * [⌊items·w/threads⌋, ⌊items·(w+1)/threads⌋).
 */
export function postStep(control: Int32Array, ranges: BigInt64Array, step: number, work: StepWork): void {
  const threads = ranges.length;
  const split = (w: number): number => Math.floor((work.items * w) / threads);
  for (let w = 0; w < threads; w++) Atomics.store(ranges, w, pack(split(w), split(w + 1)));
  control[CONTROL.CHUNK] = claimChunk(work.items, work.grain, threads);
  control[CONTROL.STEAL] = work.steal ? 1 : 0;
  control[CONTROL.STEP] = step;
  Atomics.store(control, CONTROL.PENDING, threads - 1);
  Atomics.add(control, CONTROL.GENERATION, 1);
  Atomics.notify(control, CONTROL.GENERATION);
}

/**
 * One claim for thread `me`: the next chunk from the front of its own range or, once that is used up
 * and when `steal`, the last chunk of another's (the next thread's first). Writes [start, end) to
 * `claimed`; false when nothing is left that it may take. A claim ends on a multiple of `chunk` (or
 * at a range's end), so a grain is cut between two calls only where the even split cuts it.
 */
export function claimWork(ranges: BigInt64Array, me: number, chunk: number, steal: boolean, claimed: Int32Array): boolean {
  const threads = ranges.length;
  for (let k = 0; k < (steal ? threads : 1); k++) {
    const w = (me + k) % threads;
    for (;;) {
      const word = Atomics.load(ranges, w);
      const front = frontOf(word);
      const back = backOf(word);
      if (front >= back) break;
      // Our own range from the front, another's from the back; the compare-exchange gives each item to one claim.
      const start = k === 0 ? front : Math.max(front, Math.floor((back - 1) / chunk) * chunk);
      const end = k === 0 ? Math.min(back, (Math.floor(front / chunk) + 1) * chunk) : back;
      const next = k === 0 ? pack(end, back) : pack(front, start);
      if (Atomics.compareExchange(ranges, w, word, next) === word) {
        claimed[0] = start;
        claimed[1] = end;
        return true;
      }
    }
  }
  return false;
}

const claimed = new Int32Array(2);

/** Thread `me`'s part of the current step: `run` on each range it claims until none is left. */
export function shareStep(control: Int32Array, ranges: BigInt64Array, me: number, run: (start: number, end: number) => void): void {
  const chunk = control[CONTROL.CHUNK];
  const steal = control[CONTROL.STEAL] === 1;
  while (claimWork(ranges, me, chunk, steal, claimed)) run(claimed[0], claimed[1]);
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
 * control block, share each step it is woken for (shareStep), and count itself out.
 */
export function helperLoop(
  control: Int32Array,
  worker: number,
  fns: readonly ((start: number, end: number, worker: number) => void)[],
  ready: () => void,
  failed: (message: string) => void,
): void {
  const ranges = rangeWords(control);
  // Read the generation before saying ready: the first step may be posted the moment we do.
  let generation = Atomics.load(control, CONTROL.GENERATION);
  ready();
  for (;;) {
    const until = performance.now() + SPIN_MS;
    while (Atomics.load(control, CONTROL.GENERATION) === generation && performance.now() < until);
    Atomics.wait(control, CONTROL.GENERATION, generation);
    generation = Atomics.load(control, CONTROL.GENERATION);
    if (Atomics.load(control, CONTROL.SHUTDOWN)) return;
    const fn = fns[control[CONTROL.STEP]];
    try {
      shareStep(control, ranges, worker, (start, end) => fn(start, end, worker));
    } catch (e) {
      Atomics.store(control, CONTROL.ERROR, 1);
      failed(String((e as Error)?.message ?? e));
    }
    if (Atomics.sub(control, CONTROL.PENDING, 1) === 1) Atomics.notify(control, CONTROL.PENDING);
  }
}
