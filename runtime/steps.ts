/**
 * Running a step: its work items on this thread, or split between threads by an executor. The one
 * runner that infer (infer.ts), the warm-up and the per-layer profiler (profile-node.ts) all use.
 */
import type { ModelInstance } from './instance.js';
import type { StepExecutor } from './threads/executor.js';

/** Runs one step; returns a promise only when it had to wait for other threads. */
export type StepRunner = () => void | Promise<void>;

/**
 * One runner per step of `inst`, over `items(step)` work items (all of them by default); with an
 * executor, threads that run out of work take over the others' (`steal`, protocol.ts) unless told not to.
 */
export function stepRunners(inst: ModelInstance, executor?: StepExecutor, items: (workItems: number) => number = (n) => n, steal = true): StepRunner[] {
  return inst.steps.map((step, index): StepRunner => {
    const count = items(step.workItems);
    if (!executor) return () => step.fn(0, count, 0);
    const own = (start: number, end: number): void => step.fn(start, end, 0);
    const work = { items: count, grain: step.workGrain, steal };
    return () => executor.run(index, work, own);
  });
}

/** Runs `runners` in order, awaiting only those that wait. */
export async function runAll(runners: readonly StepRunner[]): Promise<void> {
  for (const run of runners) {
    const waiting = run();
    if (waiting) await waiting;
  }
}

/**
 * Runs every layer once on a few work items (one per thread), so that the first real inference does
 * not pay for each thread's first touch of its code, stack and scratch, nor run in V8's baseline tier
 * (docs/performance.md, "V8 tiers"). The activations it leaves behind are overwritten by the next
 * inference.
 */
export async function warmUp(inst: ModelInstance, executor?: StepExecutor): Promise<void> {
  const threads = executor?.threads ?? 1;
  // No stealing: the thread that finishes its item first would take the others' and leave them cold.
  await runAll(stepRunners(inst, executor, (n) => Math.min(n, threads), false));
}
