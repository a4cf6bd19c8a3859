/**
 * POST /v2/models/{name}/classify: an image body (PNG, JPEG or WebP) → the manifest's preprocessing →
 * one image for the batcher; the logits → top-k with probabilities, as `vggc predict --json` prints.
 */
import sharp from 'sharp';
import { isVggcError } from '../format/errors.js';
import type { Manifest } from '../format/manifest.js';
import { imageToTensor } from '../images/node.js';
import { outputKind, topK, type Prediction } from '../predict.js';
import { badRequest } from './http-error.js';

/** Decoding a larger image could take gigabytes (a small PNG can declare 60000×60000 pixels). */
export const MAX_IMAGE_PIXELS = 40_000_000;
export const DEFAULT_TOP = 5;

export async function imageInput(bytes: Buffer, manifest: Manifest): Promise<Float32Array> {
  if (bytes.length === 0) throw badRequest('empty body: send a PNG, JPEG or WebP image');
  let width = 0;
  let height = 0;
  try {
    ({ width, height } = await sharp(bytes).metadata());
  } catch {
    throw badRequest('image: cannot decode: not a PNG, JPEG or WebP image, or the file is corrupt');
  }
  if (width * height > MAX_IMAGE_PIXELS) throw badRequest(`image: ${width}×${height} pixels is more than the ${MAX_IMAGE_PIXELS / 1e6} megapixels accepted`);
  const [h, w] = manifest.config.inputSize;
  try {
    return await imageToTensor({ name: 'image', bytes }, manifest.preprocessing, [h, w]);
  } catch (e) {
    // sharp can still fail past the header (a truncated image): that is the client's file too.
    throw badRequest(isVggcError(e) ? e.message : `image: cannot decode (${String((e as Error)?.message ?? e).split('\n')[0]})`);
  }
}

/** ?top=k: a positive integer, at most the number of classes (more is clamped, as predict does). */
export function parseTop(value: unknown): number {
  if (value === undefined) return DEFAULT_TOP;
  if (typeof value !== 'string' || !/^\d+$/.test(value) || Number(value) < 1) throw badRequest(`top must be a positive integer, found ${JSON.stringify(value)}`);
  return Number(value);
}

/** As predict does: softmax of logits, or the values themselves when the model ends in softmax or sigmoid. */
export function predictions(logits: Float32Array, k: number, manifest: Manifest): Prediction[] {
  return topK(logits, k, manifest.labels, outputKind(manifest));
}
