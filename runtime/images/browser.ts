/**
 * Image → input tensor (C×H×W float32) in the browser, following the manifest's preprocessing like
 * images/node.ts does with sharp, with the same geometry (geometry.ts): decode (createImageBitmap, no
 * colour-space conversion); resize (`shorterSide` then centre crop, or `fit` inside a box then
 * zero-pad centred) on a canvas; convert to 1 (grayscale) or 3 (RGB) channels; scale to [0, 1];
 * normalise per channel.
 *
 * Grayscale is computed as libvips (sharp) does: Rec.709 luminance in linear light, sRGB-encoded and
 * rounded. Gray images come out identical to sharp's; coloured pixels may differ by 1/255 (libvips
 * rounds in float32). Resizing uses the canvas's smoothing, not sharp's linear kernel, so resized
 * images are close to but not bit-identical with Node's preprocessing; images that need no resize are
 * identical.
 */
import { VggcError } from '../format/errors.js';
import type { Preprocessing } from '../format/manifest.js';
import { imageGeometry } from './geometry.js';
import { pixelsToPlanes } from './pixels.js';

export type ImageInput = Blob | ImageBitmap | HTMLImageElement | HTMLCanvasElement | OffscreenCanvas | ImageData;

/** Decodes and preprocesses `source` for a model with `pre` and input [height, width]. */
export async function imageToTensor(source: ImageInput, pre: Preprocessing, inputSize: readonly [number, number] | readonly number[]): Promise<Float32Array> {
  const [H, W] = inputSize;
  if (pre.channels !== 1 && pre.channels !== 3) throw new VggcError(`the model takes ${pre.channels} input channels; images can only feed models with 1 or 3`);
  let bitmap: ImageBitmap;
  try {
    bitmap = source instanceof ImageBitmap ? source : await createImageBitmap(source, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch (e) {
    throw new VggcError(`cannot decode the image: not a PNG, JPEG or WebP image, or the file is corrupt (${(e as Error).message})`);
  }
  const srcW = bitmap.width;
  const srcH = bitmap.height;
  if (!srcW || !srcH) throw new VggcError('the image has no size');
  const g = imageGeometry(srcW, srcH, pre, [H, W], 'the image');
  const outW = g.visibleWidth;
  const outH = g.visibleHeight;
  const canvas = new OffscreenCanvas(outW, outH);
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new VggcError('no 2D canvas context available to decode the image');
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(bitmap, -g.cropLeft, -g.cropTop, g.width, g.height);
  const rgba = ctx.getImageData(0, 0, outW, outH, { colorSpace: 'srgb' }).data;
  if (bitmap !== source) bitmap.close();
  return pixelsToTensor(rgba, outW, outH, pre, [H, W], g.padTop, g.padLeft);
}

/**
 * RGBA pixels (already resized and cropped to w×h) → C×H×W float32, placed at (padTop, padLeft) in
 * an H×W input that is otherwise zero-padded (value 0 in pixel space, before normalisation).
 */
export function pixelsToTensor(
  rgba: Uint8ClampedArray | Uint8Array,
  w: number,
  h: number,
  pre: Preprocessing,
  inputSize: readonly number[],
  padTop = 0,
  padLeft = 0,
): Float32Array {
  const image = pre.channels === 1 ? { pixels: grayscale(rgba, w * h), stride: 1, width: w, height: h } : { pixels: rgba, stride: 4, width: w, height: h };
  return pixelsToPlanes(image, pre, inputSize, padTop, padLeft);
}

let srgbToLinear: Float64Array | null = null;

/** libvips' sRGB → B_W: Rec.709 luminance of the linearised channels, then sRGB-encoded again. */
export function grayscale(rgba: Uint8ClampedArray | Uint8Array, pixels: number): Uint8Array {
  if (!srgbToLinear) {
    srgbToLinear = new Float64Array(256);
    for (let i = 0; i < 256; i++) {
      const v = i / 255;
      srgbToLinear[i] = v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    }
  }
  const lin = srgbToLinear;
  const out = new Uint8Array(pixels);
  for (let i = 0; i < pixels; i++) {
    const r = rgba[4 * i];
    const g = rgba[4 * i + 1];
    const b = rgba[4 * i + 2];
    if (r === g && g === b) {
      out[i] = r; // exact for gray pixels (the round trip below returns r up to float error)
      continue;
    }
    const y = 0.2126 * lin[r] + 0.7152 * lin[g] + 0.0722 * lin[b];
    const v = y <= 0.0031308 ? 12.92 * y : 1.055 * y ** (1 / 2.4) - 0.055;
    out[i] = Math.max(0, Math.min(255, Math.round(v * 255)));
  }
  return out;
}
