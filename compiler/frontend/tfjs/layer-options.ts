/**
 * Each supported Keras layer's options, checked against what vggc can compute. A layer whose options
 * vggc cannot honour is refused with one line naming the layer, its class, the option and what vggc
 * supports; options with no effect on inference (initialisers, regularisers, constraints, trainable,
 * dtype) are ignored.
 */
import { VggcError } from '../../errors.js';
import { field, quote, show } from './json-fields.js';
import type { KerasLayer } from './topology.js';

/** Throws `model.json: layer "name" (Class): msg`. */
export function layerError(path: string, layer: KerasLayer, msg: string): never {
  throw new VggcError(`${path}: layer ${quote(layer.name)} (${layer.className}): ${msg}`);
}

/** Reads one layer's options; every failure names the layer. */
export class LayerOptions {
  constructor(
    private readonly path: string,
    readonly layer: KerasLayer,
  ) {}

  fail(msg: string): never {
    return layerError(this.path, this.layer, msg);
  }

  private get(key: string): unknown {
    return field(this.layer.config, key);
  }

  /** A positive integer option (filters, units). */
  positiveInt(key: string): number {
    const v = this.get(key);
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) this.fail(`${key} ${show(v)} must be a positive integer`);
    return v as number;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.get(key);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== 'boolean') this.fail(`${key} ${show(v)} must be true or false`);
    return v as boolean;
  }

  /** An activation name; Keras 3 may write a serialised function object `{ config: { name } }` or a module path. */
  activation(key = 'activation'): string {
    const v = this.get(key);
    if (v === undefined || v === null) return 'linear';
    if (typeof v === 'string') return v.replace(/^.*\./, '');
    if (typeof v === 'object' && v !== null) {
      const inner = (v as { config?: unknown }).config;
      if (typeof inner === 'string') return inner;
      if (typeof inner === 'object' && inner !== null && typeof (inner as { name?: unknown }).name === 'string') return (inner as { name: string }).name;
    }
    return this.fail(`${key} ${show(v)} is not an activation name`);
  }

  /** A 2-D size option, `3` or `[3, 3]`; `fallback` when absent (null when the option is required). */
  pair(key: string, fallback: readonly [number, number] | null): readonly [number, number] {
    const v = this.get(key);
    if (v === undefined || v === null) return fallback ?? this.fail(`has no ${key}`);
    if (typeof v === 'number') return [v, v];
    if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0], v[1]];
    return this.fail(`${key} ${show(v)} must be a number or a pair of numbers`);
  }

  /** Requires a 2-D option to equal `want` ("kernel_size [5, 5]; vggc supports 3×3 only"). */
  requirePair(key: string, fallback: readonly [number, number] | null, want: readonly [number, number], supported: string): void {
    const got = this.pair(key, fallback);
    if (got[0] !== want[0] || got[1] !== want[1]) this.fail(`${key} [${got.join(', ')}]; vggc supports ${supported} only`);
  }

  /** Requires a string option to be one of `allowed` (absent = `fallback`). */
  requireString(key: string, fallback: string, allowed: readonly string[], supported: string): string {
    const v = this.get(key);
    const got = v === undefined || v === null ? fallback : v;
    if (typeof got !== 'string' || !allowed.includes(got)) this.fail(`${key} ${show(got)}; vggc supports ${supported} only`);
    return got as string;
  }

  /** Channels-last only: vggc's layouts (and the Flatten permutation below) assume NHWC Keras maps. */
  requireChannelsLast(): void {
    this.requireString('data_format', 'channels_last', ['channels_last', 'channelsLast'], 'data_format "channels_last"');
  }

  /** A number option that must equal `want` when present (ReLU's threshold 0, negative_slope 0). */
  requireNumberOrAbsent(key: string, want: number | null, supported: string): void {
    const v = this.get(key);
    if (v === undefined || v === null || v === want) return;
    this.fail(`${key} ${show(v)}; vggc supports ${supported} only`);
  }

  /** BatchNormalization / Softmax axis: a number or a one-element list, one of `allowed`. */
  axis(fallback: number, allowed: readonly number[], supported: string): number {
    const v = this.get('axis');
    const axis = v === undefined || v === null ? fallback : Array.isArray(v) && v.length === 1 ? v[0] : v;
    if (typeof axis !== 'number' || !allowed.includes(axis)) this.fail(`axis ${show(v)}; vggc supports ${supported} only`);
    return axis as number;
  }

  /** ε of a BatchNormalization (Keras's default 1e-3). */
  epsilon(): number {
    const v = this.get('epsilon');
    if (v === undefined || v === null) return 1e-3;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) this.fail(`epsilon ${show(v)} must be a non-negative number`);
    return v as number;
  }
}

/** Conv2D: 3×3, 'same', stride 1, dilation 1, one group, channels last, relu or linear. */
export function checkConv(o: LayerOptions): { filters: number; useBias: boolean; relu: boolean } {
  const filters = o.positiveInt('filters');
  o.requirePair('kernel_size', null, [3, 3], '3×3');
  o.requirePair('strides', [1, 1], [1, 1], 'strides 1');
  o.requirePair('dilation_rate', [1, 1], [1, 1], 'dilation 1');
  o.requireString('padding', 'valid', ['same'], "padding 'same'");
  o.requireChannelsLast();
  o.requireNumberOrAbsent('groups', 1, 'groups 1');
  const activation = o.activation();
  if (activation !== 'relu' && activation !== 'linear') o.fail(`activation ${show(activation)}; vggc supports 'relu' or 'linear' (then BatchNormalization and/or ReLU) only`);
  return { filters, useBias: o.bool('use_bias', true), relu: activation === 'relu' };
}

export function checkBatchNorm(o: LayerOptions): { center: boolean; scale: boolean; eps: number } {
  o.axis(-1, [-1, 3], 'the channel axis (-1 or 3)');
  return { center: o.bool('center', true), scale: o.bool('scale', true), eps: o.epsilon() };
}

/** Activation('relu') or a plain ReLU layer: true; anything else refused by the caller. */
export function isPlainRelu(o: LayerOptions): boolean {
  if (o.layer.className === 'Activation') return o.activation() === 'relu';
  if (o.layer.className !== 'ReLU') return false;
  o.requireNumberOrAbsent('max_value', null, 'a plain ReLU (max_value null)');
  o.requireNumberOrAbsent('negative_slope', 0, 'a plain ReLU (negative_slope 0)');
  o.requireNumberOrAbsent('threshold', 0, 'a plain ReLU (threshold 0)');
  return true;
}

/** MaxPooling2D 2×2, stride 2, 'valid'. */
export function checkMaxPool(o: LayerOptions): void {
  o.requirePair('pool_size', [2, 2], [2, 2], '2×2 pools');
  o.requirePair('strides', o.pair('pool_size', [2, 2]), [2, 2], 'stride 2');
  o.requireString('padding', 'valid', ['valid'], "padding 'valid'");
  o.requireChannelsLast();
}

/** Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D: channels last, no keepdims. */
export function checkHeadPool(o: LayerOptions): void {
  o.requireChannelsLast();
  if (o.bool('keepdims', false)) o.fail('keepdims true; vggc supports keepdims false only (a Dense layer must see a vector)');
}

export function checkDense(o: LayerOptions): { units: number; useBias: boolean; activation: string } {
  const units = o.positiveInt('units');
  const activation = o.activation();
  if (!['relu', 'linear', 'softmax', 'sigmoid'].includes(activation)) o.fail(`activation ${show(activation)}; vggc supports 'relu', 'linear', 'softmax' or 'sigmoid' only`);
  return { units, useBias: o.bool('use_bias', true), activation };
}
