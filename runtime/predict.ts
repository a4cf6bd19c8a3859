/**
 * A model's outputs → the top-K classes with probabilities: softmax of logits, or the values as they
 * are when the model computes probabilities itself (a Keras head's softmax or sigmoid).
 */
import type { Manifest } from './format/manifest.js';

export interface Prediction {
  readonly label: string;
  readonly index: number;
  readonly probability: number;
}

export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const p = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += p[i] = Math.exp(logits[i] - max);
  for (let i = 0; i < p.length; i++) p[i] /= sum;
  return p;
}

/** What a model's outputs are: `logits`, or `probabilities` when its config ends in softmax or sigmoid. */
export type OutputKind = 'logits' | 'probabilities';

export const outputKind = (manifest: Pick<Manifest, 'config'>): OutputKind => ((manifest.config.finalActivation ?? 'none') === 'none' ? 'logits' : 'probabilities');

export function topK(values: ArrayLike<number>, k: number, labels: readonly string[] | null, kind: OutputKind = 'logits'): Prediction[] {
  const p = kind === 'logits' ? softmax(values) : Float64Array.from(values);
  return Array.from(p.keys())
    .sort((a, b) => p[b] - p[a] || a - b)
    .slice(0, Math.max(1, Math.min(k, p.length)))
    .map((index) => ({ label: labels?.[index] ?? `class ${index}`, index, probability: p[index] }));
}
