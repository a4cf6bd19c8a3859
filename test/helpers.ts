/** Shared test utilities: temp folders, compiling fixtures, comparing logits. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import { VggcError } from '../runtime/format/errors.js';
import type { ParamTensor } from '../compiler/graph/graph.js';
import { compileModel, type CompileOptions } from '../compiler/pipeline.js';
import type { KernelVariant } from '../compiler/schedule/schedule.js';

export const ROOT = new URL('..', import.meta.url).pathname.replace(/\/$/, '');
export const GOLDEN = join(ROOT, 'test/golden');
export const GOLDENS = ['small-rect', 'notebook', 'gray-odd', 'small-bn'] as const;

/** A temp folder removed after the file's tests. */
export function tempDir(prefix = 'vggc-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export async function compileGolden(name: string, kernels: KernelVariant, into: string, extra: Partial<CompileOptions> = {}): Promise<string> {
  const outDir = join(into, `${name}-${kernels}`);
  await compileModel({ configPath: join(GOLDEN, name, 'config.json'), weightsPath: join(GOLDEN, name, 'weights.safetensors'), outDir, kernels, ...extra });
  return outDir;
}

export interface Comparison {
  /** max |y − ref| / max |ref| */
  relError: number;
  sameArgmax: boolean;
}

export function compareLogits(y: Float32Array, ref: Float32Array, numClasses: number): Comparison {
  expect(y.length).toBe(ref.length);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(y[i] - ref[i]));
    maxRef = Math.max(maxRef, Math.abs(ref[i]));
  }
  let sameArgmax = true;
  for (let n = 0; n < ref.length / numClasses; n++) {
    if (argmax(y.subarray(n * numClasses, (n + 1) * numClasses)) !== argmax(ref.subarray(n * numClasses, (n + 1) * numClasses))) sameArgmax = false;
  }
  return { relError: maxDiff / maxRef, sameArgmax };
}

export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

/** The project's parity tolerance against PyTorch and TensorFlow.js. */
export const TOLERANCE = 1e-4;

export function expectParity(y: Float32Array, ref: Float32Array, numClasses: number): void {
  const c = compareLogits(y, ref, numClasses);
  expect(c.relError).toBeLessThanOrEqual(TOLERANCE);
  expect(c.sameArgmax).toBe(true);
}

/** Runs `fn`, requires a VggcError, returns its message (checked to be one line). */
export function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(VggcError);
    const msg = (e as Error).message;
    expect(msg).not.toMatch(/[\r\n]/);
    return msg;
  }
  throw new Error('expected a VggcError, but nothing was thrown');
}

/** Awaits `p`, requires a VggcError with a one-line message, returns the message. */
export async function rejection(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(VggcError);
    const msg = (e as Error).message;
    expect(msg).not.toMatch(/[\r\n]/);
    return msg;
  }
  throw new Error('expected a VggcError, but the promise resolved');
}

/** A toy network's parameters (one 1→2 conv, one 4→3 linear): the weights-file tests and fixtures use it. */
export const TOY_PARAMS: ParamTensor[] = [
  { key: 'features.0.weight', notebookKey: 'conv_backbone.features.0.conv_block.0.weight', shape: [2, 1, 3, 3], init: 'kaiming-normal-fan-out-relu' },
  { key: 'features.0.bias', notebookKey: 'conv_backbone.features.0.conv_block.0.bias', shape: [2], init: 'zeros' },
  { key: 'classifier.0.weight', notebookKey: 'classifier.0.weight', shape: [3, 4], init: 'normal-0.01' },
  { key: 'classifier.0.bias', notebookKey: 'classifier.0.bias', shape: [3], init: 'zeros' },
];
