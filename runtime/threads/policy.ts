/** How many threads a loader runs a model with. */
import { VggcError } from '../format/errors.js';
import type { Manifest } from '../format/manifest.js';

/**
 * `requested`, or `fallback` when not given (capped at the model's maxWorkers): a positive integer no
 * larger than the maxWorkers the model's scratch was planned for.
 */
export function resolveThreads(requested: number | undefined, fallback: number, manifest: Manifest, label: string): number {
  const max = manifest.memory.maxWorkers;
  const threads = requested ?? Math.min(fallback, max);
  if (!Number.isSafeInteger(threads) || threads < 1) throw new VggcError(`loadModel: threads must be a positive integer, found ${typeof requested === 'string' ? JSON.stringify(requested) : String(requested)}`);
  if (threads > max) throw new VggcError(`loadModel: threads is ${threads} but ${label} was compiled for at most ${max}`);
  return threads;
}
