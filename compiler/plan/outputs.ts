/**
 * Where each named output is: the step that writes its tensor, and until when the tensor must stay
 * in the arena. A per-image output is copied out by the runtime after the image's steps, so it lives
 * to the end of the image phase; a per-batch one (the classifier's) to the end of the run.
 */
import type { ResolvedOutput } from '../outputs/names.js';
import type { ScheduledStep } from '../schedule/schedule.js';

export interface OutputStep {
  readonly output: ResolvedOutput;
  /** Index of the step whose output tensor it is (its tensor is tensors[step + 1]). */
  readonly step: number;
  /** The last step that may run before the runtime has copied it out. */
  readonly keepUntil: number;
}

export function outputSteps(steps: readonly ScheduledStep[], outputs: readonly ResolvedOutput[]): OutputStep[] {
  const lastImage = steps.reduce((last, s, i) => (s.phase === 'image' ? i : last), 0);
  return outputs.map((output) => {
    const step = steps.findIndex((s) => 'layer' in s && s.layer.ops.includes(output.tap.op));
    if (step < 0) throw new Error(`plan: no step writes the tensor of output ${output.name} (op ${output.tap.op})`);
    return { output, step, keepUntil: steps[step].phase === 'image' ? lastImage : steps.length - 1 };
  });
}
