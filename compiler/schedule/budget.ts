/**
 * The scheduler's memory budget: whether a schedule's activations and weights fit in wasm memory,
 * computed exactly as the planner will lay them out (plan/activations.ts, plan/weights.ts,
 * plan/memory.ts), so the scheduler can choose kernels that fit instead of the planner failing.
 */
import { planActivations } from '../plan/activations.js';
import { outputSteps } from '../plan/outputs.js';
import { fits, weightsBaseAfter } from '../plan/memory.js';
import { placeWeights, weightsOf } from '../plan/weights.js';
import type { Schedule } from './schedule.js';

export function fitsInMemory(s: Schedule): boolean {
  const { arenaBytes } = planActivations(s.steps, s.fused.graph.input, outputSteps(s.steps, s.fused.outputs));
  const placed = placeWeights(s.steps.map((step) => weightsOf(step, s.weightsDtype)), weightsBaseAfter(arenaBytes), () => '');
  return fits({ arenaBytes, payloadBytes: placed.payloadBytes, preparedBase: placed.preparedBase, preparedBytes: placed.preparedBytes });
}
