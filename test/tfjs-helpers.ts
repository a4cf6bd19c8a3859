/**
 * Test helpers for the TF.js LayersModel reader: build models with tfjs-layers (CPU backend, seeded
 * initialisers), save them through a save handler into model.json + .bin shards the way TF.js and
 * tensorflowjs_converter lay them out, and quantise shards with the converter's formula.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import type { StoredTensor } from '../compiler/frontend/imported.js';
import { f32ToF16Bits } from '../compiler/weights/half.js';

export { tf, tfl };

export async function useCpuBackend(): Promise<void> {
  tf.env().set('PROD', true); // silences the CPU backend's "install tfjs-node" banner
  await tf.setBackend('cpu');
  await tf.ready();
}

/**
 * tfjs-backend-wasm (SIMD kernels, several times faster than the CPU backend on a real-size VGG16)
 * for model.predict; call useCpuBackend() to switch back.
 */
export async function useWasmBackend(): Promise<void> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  wasm.setWasmPaths(new URL('../node_modules/@tensorflow/tfjs-backend-wasm/dist/', import.meta.url).pathname);
  if (!(await tf.setBackend('wasm'))) throw new Error("tf.setBackend('wasm') failed");
  await tf.ready();
}

/** mulberry32: a small seeded PRNG for inputs and BatchNorm statistics. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function uniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

export interface Saved {
  readonly topology: Record<string, unknown>;
  readonly specs: tf.io.WeightsManifestEntry[];
  readonly data: Uint8Array;
}

/** What `model.save` hands a save handler: topology, weight specs and one byte stream. */
export async function saveArtifacts(model: tfl.LayersModel): Promise<Saved> {
  let saved: Saved | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      const data = new Uint8Array(tf.io.CompositeArrayBuffer.join(a.weightData!));
      saved = { topology: a.modelTopology as Record<string, unknown>, specs: a.weightSpecs!, data };
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  return saved!;
}

export type Quantization = 'uint8' | 'uint16' | 'float16';

export interface WriteOptions {
  /** Shard size in bytes (the converter's default is 4 MB); the last shard holds the rest. */
  readonly shardBytes?: number;
  /** `converter`: modelTopology { keras_version, backend, model_config } as tensorflowjs_converter writes it. */
  readonly form?: 'tfjs' | 'converter';
  readonly quantize?: Quantization;
  /** Last chance to edit model.json (for error tests). */
  readonly edit?: (modelJson: Record<string, any>) => void;
}

/** Writes `saved` as dir/model.json + dir/group1-shardKofN.bin; returns model.json's path and the manifest entries. */
export function writeTfjsModel(saved: Saved, dir: string, opts: WriteOptions = {}): { path: string; specs: tf.io.WeightsManifestEntry[]; data: Uint8Array } {
  mkdirSync(dir, { recursive: true });
  const { specs, data } = opts.quantize ? quantizeAll(saved, opts.quantize) : { specs: saved.specs, data: saved.data };
  const shard = opts.shardBytes ?? Math.max(1, data.length);
  const count = Math.max(1, Math.ceil(data.length / shard));
  const paths: string[] = [];
  for (let k = 0; k < count; k++) {
    const name = `group1-shard${k + 1}of${count}.bin`;
    writeFileSync(join(dir, name), data.subarray(k * shard, Math.min(data.length, (k + 1) * shard)));
    paths.push(name);
  }
  // A deep copy: `edit` must not change the saved topology other variants are written from.
  const { keras_version, backend, ...model } = JSON.parse(JSON.stringify(saved.topology));
  const modelTopology = opts.form === 'converter' ? { keras_version, backend, model_config: model } : { ...model, keras_version, backend };
  const weights = JSON.parse(JSON.stringify(specs));
  const json: Record<string, any> = { format: 'layers-model', generatedBy: 'TensorFlow.js tfjs-layers v4.22.0', convertedBy: null, modelTopology, weightsManifest: [{ paths, weights }] };
  opts.edit?.(json);
  const path = join(dir, 'model.json');
  writeFileSync(path, JSON.stringify(json));
  return { path, specs, data };
}

/**
 * Every float32 weight quantised as tensorflowjs_converter does (quantization.py quantize_weights):
 * uint8/uint16 affine with the zero point nudged onto the grid when 0 is in range, float16 by
 * rounding to nearest even; the manifest entry gets quantization { dtype, [min, scale,] original_dtype }.
 */
export function quantizeAll(saved: Saved, q: Quantization): { specs: tf.io.WeightsManifestEntry[]; data: Uint8Array } {
  const parts: Uint8Array[] = [];
  const specs: tf.io.WeightsManifestEntry[] = [];
  let offset = 0;
  for (const spec of saved.specs) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(saved.data.slice(offset, offset + 4 * n).buffer);
    offset += 4 * n;
    const { bytes, meta } = quantizeValues(values, q);
    parts.push(bytes);
    specs.push({ ...spec, quantization: { dtype: q, ...meta, original_dtype: 'float32' } as tf.io.WeightsManifestEntry['quantization'] });
  }
  const data = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    data.set(p, at);
    at += p.length;
  }
  return { specs, data };
}

/** numpy's np.round: half to even. */
const roundHalfEven = (x: number): number => {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

export function quantizeValues(values: Float32Array, q: Quantization): { bytes: Uint8Array; meta: { min?: number; scale?: number } } {
  if (q === 'float16') {
    const h = new Uint16Array(values.length);
    for (let i = 0; i < values.length; i++) h[i] = f32ToF16Bits(values[i]);
    return { bytes: new Uint8Array(h.buffer), meta: {} };
  }
  const qmax = q === 'uint8' ? 255 : 65535;
  const out = q === 'uint8' ? new Uint8Array(values.length) : new Uint16Array(values.length);
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  if (min === max) return { bytes: new Uint8Array(out.buffer), meta: { min, scale: 1 } };
  const scale = (max - min) / qmax;
  let nudgedMin = min;
  let nudgedMax = max;
  if (min <= 0 && 0 <= max) {
    const zeroPoint = roundHalfEven((0 - min) / scale);
    nudgedMin = -zeroPoint * scale;
    nudgedMax = qmax * scale + nudgedMin;
  }
  for (let i = 0; i < values.length; i++) {
    const clipped = Math.min(nudgedMax, Math.max(nudgedMin, values[i]));
    out[i] = roundHalfEven((clipped - nudgedMin) / scale);
  }
  return { bytes: new Uint8Array(out.buffer), meta: { min: nudgedMin, scale } };
}

export const readAll = (t: StoredTensor): Float32Array => t.read(0, t.shape.reduce((a, b) => a * b, 1));

/** NCHW copy of an NHWC batch. */
export function nhwcToNchw(x: Float32Array, n: number, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n; b++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) for (let ch = 0; ch < c; ch++) out[((b * c + ch) * h + y) * w + xx] = x[((b * h + y) * w + xx) * c + ch];
  return out;
}

/** max |a − b| / max |b|. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let ref = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    ref = Math.max(ref, Math.abs(b[i]));
  }
  return diff / ref;
}

