/** Logits → the top-K classes with softmax probabilities. */
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

export function topK(logits: ArrayLike<number>, k: number, labels: readonly string[] | null): Prediction[] {
  const p = softmax(logits);
  return Array.from(p.keys())
    .sort((a, b) => p[b] - p[a] || a - b)
    .slice(0, Math.max(1, Math.min(k, p.length)))
    .map((index) => ({ label: labels?.[index] ?? `class ${index}`, index, probability: p[index] }));
}
