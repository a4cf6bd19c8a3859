/**
 * Image file → input tensor (C×H×W float32) in Node, with sharp, following the manifest's
 * preprocessing: decode; convert to 1 (grayscale) or 3 (RGB) channels; resize (`shorterSide` then
 * centre crop, like torchvision's Resize + CenterCrop; or `fit` inside a box then zero-pad centred);
 * scale to [0, 1]; normalise per channel.
 */
import { statSync } from 'node:fs';
import sharp, { type Metadata } from 'sharp';
import { VggcError } from '../format/errors.js';
import type { Preprocessing } from '../format/manifest.js';
import { imageGeometry } from './geometry.js';
import { pixelsToPlanes } from './pixels.js';

const SUPPORTED_FORMATS = ['png', 'jpeg', 'webp'];

/** `source` is a path, or an image already in memory with the name its errors show (vggc serve's request bodies). */
export async function imageToTensor(source: string | { readonly name: string; readonly bytes: Uint8Array }, pre: Preprocessing, inputSize: readonly [number, number] | readonly number[]): Promise<Float32Array> {
  const file = typeof source === 'string' ? source : source.name;
  const input = typeof source === 'string' ? source : source.bytes;
  const [H, W] = inputSize;
  const channels = pre.channels;
  if (channels !== 1 && channels !== 3) throw new VggcError(`${file}: the model takes ${channels} input channels; images can only feed models with 1 or 3`);
  if (typeof source === 'string' && isFolder(source)) throw new VggcError(`${file}: is a folder, not an image`);
  let meta: Metadata;
  try {
    meta = await sharp(input).metadata();
  } catch (e) {
    throw new VggcError(`${file}: ${imageError(e)}`);
  }
  if (!SUPPORTED_FORMATS.includes(meta.format ?? '')) throw new VggcError(`${file}: unsupported image format ${meta.format ?? 'unknown'} (vggc reads PNG, JPEG and WebP)`);
  if (!meta.width || !meta.height) throw new VggcError(`${file}: image has no size`);
  let img = sharp(input).removeAlpha();
  img = channels === 1 ? img.grayscale() : img.toColourspace('srgb');
  const g = imageGeometry(meta.width, meta.height, pre, [H, W], file);
  if (g.width !== meta.width || g.height !== meta.height) img = img.resize(g.width, g.height, { fit: 'fill', kernel: 'linear' });
  const w = g.visibleWidth;
  const h = g.visibleHeight;
  let raw: Buffer;
  // Decoding happens here (the header above can be whole while the pixels are cut off or damaged).
  try {
    if (g.visibleWidth !== g.width || g.visibleHeight !== g.height) {
      // The crop of the resized image (sharp applies extract before resize in one pipeline, so in two).
      img = sharp(await img.raw().toBuffer(), { raw: { width: g.width, height: g.height, channels: channels as 1 | 3 } }).extract({ left: g.cropLeft, top: g.cropTop, width: g.visibleWidth, height: g.visibleHeight });
    }
    raw = await img.raw().toBuffer();
  } catch (e) {
    throw new VggcError(`${file}: ${imageError(e)}`);
  }
  const got = raw.length / (w * h);
  if (got !== channels) throw new VggcError(`${file}: decoded to ${got} channels, expected ${channels}`);
  return pixelsToPlanes({ pixels: raw, stride: channels, width: w, height: h }, pre, [H, W], g.padTop, g.padLeft);
}

function imageError(e: unknown): string {
  const msg = String((e as Error)?.message ?? e).split('\n')[0];
  if (/unsupported image format/i.test(msg)) return 'cannot decode: not a PNG, JPEG or WebP image, or the file is corrupt';
  if (/no such file|ENOENT|input file is missing/i.test(msg)) return 'file not found';
  return `cannot decode the image (${msg})`;
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false; // a missing file gets sharp's "file not found" below
  }
}
