/**
 * compileModel's argument check: the CLI's parsers already refuse bad flags, but a program calling
 * the API may pass anything, and a wrong value must be a one-line error naming the option, not a
 * TypeError or a "NaN GiB" much later.
 */
import { VggcError } from './errors.js';
import { PREPROCESSING_PRESETS } from './frontend/config/preprocessing.js';
import type { CompileOptions } from './pipeline.js';
import { WEIGHTS_DTYPES } from './weights/layout.js';
import { WINOGRAD_TRANSFORMS } from './winograd/winograd.js';
import { WINOGRAD_STREAMS } from './schedule/winograd-plan.js';

const CHOICES: { readonly [K in keyof CompileOptions]?: readonly string[] } = {
  kernels: ['wasmsimd', 'scalar-ref'],
  conv: ['auto', 'direct', 'winograd'],
  winogradTile: ['auto', ...Object.keys(WINOGRAD_TRANSFORMS)],
  winogradStream: ['auto', ...WINOGRAD_STREAMS],
  weightsDtype: WEIGHTS_DTYPES,
  preprocessing: PREPROCESSING_PRESETS,
  outputLayout: ['nchw', 'nhwc'],
};

export function checkCompileOptions(opts: CompileOptions): void {
  const fail = (field: string, expected: string, found: unknown): never => {
    throw new VggcError(`compileModel: ${field} must be ${expected}, found ${found === undefined ? 'undefined' : JSON.stringify(found)}`);
  };
  if (typeof opts !== 'object' || opts === null) fail('its argument', 'an object of options', opts);
  // An empty -o reaches here as ''; the CLI's user never typed "outDir".
  if (typeof opts.outDir === 'string' && opts.outDir.trim() === '') throw new VggcError('the output folder is an empty string; give a folder to write the model into');
  for (const field of ['configPath', 'outDir'] as const) if (typeof opts[field] !== 'string' || opts[field].trim() === '') fail(field, 'a non-empty path', opts[field]);
  for (const field of ['weightsPath', 'labelsPath'] as const) if (opts[field] !== undefined && (typeof opts[field] !== 'string' || opts[field] === '')) fail(field, 'a path', opts[field]);
  for (const [field, choices] of Object.entries(CHOICES) as [keyof CompileOptions, readonly string[]][]) {
    const v = opts[field];
    if (v !== undefined && !choices.includes(v as string)) fail(field, `one of ${choices.join(', ')}`, v);
  }
  if (opts.seed !== undefined && !(Number.isSafeInteger(opts.seed) && opts.seed >= 0)) fail('seed', 'a non-negative integer', opts.seed);
  if (opts.shardBytes !== undefined && !(Number.isSafeInteger(opts.shardBytes) && opts.shardBytes >= 0)) fail('shardBytes', 'a non-negative integer', opts.shardBytes);
  const size = opts.inputSize;
  if (size !== undefined && !(Array.isArray(size) && size.length === 2 && size.every((n) => Number.isSafeInteger(n) && n >= 1))) fail('inputSize', '[height, width], two positive integers', size);
  if (opts.outputs !== undefined && !(Array.isArray(opts.outputs) && opts.outputs.length > 0 && opts.outputs.every((n) => typeof n === 'string' && n !== ''))) fail('outputs', 'a non-empty list of layer names', opts.outputs);
  if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') fail('onProgress', 'a function', opts.onProgress);
}
