/**
 * Image file → input tensor (C×H×W float32) in Node, with sharp, following the manifest's
 * preprocessing: decode; convert to 1 (grayscale) or 3 (RGB) channels; resize (`shorterSide` then
 * centre crop, like torchvision's Resize + CenterCrop; or `fit` inside a box then zero-pad centred);
 * scale to [0, 1]; normalise per channel.
 */
import sharp, { type Metadata } from 'sharp';
import { VggcError } from './errors.js';
import type { Preprocessing } from './manifest.js';
import { pixelsToPlanes } from './preprocess.js';

const SUPPORTED_FORMATS = ['png', 'jpeg', 'webp'];

export async function imageToTensor(file: string, pre: Preprocessing, inputSize: readonly [number, number]): Promise<Float32Array> {
  const [H, W] = inputSize;
  const channels = pre.channels;
  if (channels !== 1 && channels !== 3) throw new VggcError(`${file}: the model takes ${channels} input channels; images can only feed models with 1 or 3`);
  let meta: Metadata;
  try {
    meta = await sharp(file).metadata();
  } catch (e) {
    throw new VggcError(`${file}: ${imageError(e)}`);
  }
  if (!SUPPORTED_FORMATS.includes(meta.format ?? '')) throw new VggcError(`${file}: unsupported image format ${meta.format ?? 'unknown'} (vggc reads PNG, JPEG and WebP)`);
  if (!meta.width || !meta.height) throw new VggcError(`${file}: image has no size`);
  let img = sharp(file).removeAlpha();
  img = channels === 1 ? img.grayscale() : img.toColourspace('srgb');
  let padTop = 0;
  let padLeft = 0;
  let w = meta.width;
  let h = meta.height;
  if ('shorterSide' in pre.resize) {
    const s = pre.resize.shorterSide;
    // torchvision Resize(int): shorter side → s, longer side scaled and truncated.
    if (w <= h) [w, h] = [s, Math.floor((s * h) / w)];
    else [w, h] = [Math.floor((s * w) / h), s];
    if (w !== meta.width || h !== meta.height) img = img.resize(w, h, { fit: 'fill', kernel: 'linear' });
    if (w < W || h < H) throw new VggcError(`${file}: resized to ${w}×${h}, smaller than the ${W}×${H} crop`);
    // torchvision CenterCrop: offsets rounded to nearest.
    const top = Math.round((h - H) / 2);
    const left = Math.round((w - W) / 2);
    img = sharp(await img.raw().toBuffer(), { raw: { width: w, height: h, channels: channels as 1 | 3 } }).extract({ left, top, width: W, height: H });
    w = W;
    h = H;
  } else {
    const [fh, fw] = pre.resize.fit;
    if (w > fw || h > fh) {
      const scale = Math.min(fw / w, fh / h);
      [w, h] = [Math.max(1, Math.round(w * scale)), Math.max(1, Math.round(h * scale))];
      img = img.resize(w, h, { fit: 'fill', kernel: 'linear' });
    }
    padTop = Math.floor((H - h) / 2);
    padLeft = Math.floor((W - w) / 2);
  }
  let raw: Buffer;
  try {
    raw = await img.raw().toBuffer();
  } catch (e) {
    throw new VggcError(`${file}: ${imageError(e)}`);
  }
  const got = raw.length / (w * h);
  if (got !== channels) throw new VggcError(`${file}: decoded to ${got} channels, expected ${channels}`);
  return pixelsToPlanes(raw, channels, w, h, pre, [H, W], padTop, padLeft);
}

function imageError(e: unknown): string {
  const msg = String((e as Error)?.message ?? e).split('\n')[0];
  if (/unsupported image format/i.test(msg)) return 'cannot decode: not a PNG, JPEG or WebP image, or the file is corrupt';
  if (/no such file|ENOENT|input file is missing/i.test(msg)) return 'file not found';
  return `cannot decode the image (${msg})`;
}
