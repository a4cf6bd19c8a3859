/**
 * The platform-independent end of preprocessing (Node's sharp path and the browser's canvas path
 * both end here): interleaved 8-bit pixels → C×H×W float32 input, normalised per channel.
 */
import type { Preprocessing } from '../format/manifest.js';

/** An interleaved 8-bit image: `stride` values per pixel, of which the first `pre.channels` are used. */
export interface PixelImage {
  readonly pixels: ArrayLike<number>;
  readonly stride: number;
  readonly width: number;
  readonly height: number;
}

/**
 * `image` placed at (padTop, padLeft) in the H×W input; the rest is zero padding in pixel space
 * (value 0, before normalisation — as the models were trained). Channel c of the input takes the
 * image's channel c (rgb) or 2 − c (bgr); the pixel is scaled to the pixel range ([0, 1]: x / 255,
 * [0, 255]: x as it is); then (x − mean) / std per channel.
 */
export function pixelsToPlanes(image: PixelImage, pre: Preprocessing, inputSize: readonly number[], padTop = 0, padLeft = 0): Float32Array {
  const { pixels, stride, width: w, height: h } = image;
  const [H, W] = inputSize;
  const bgr = pre.channelOrder === 'bgr';
  const toRange = pre.pixelRange?.[1] === 255 ? (v: number): number => v : (v: number): number => v / 255;
  const out = new Float32Array(pre.channels * H * W);
  for (let c = 0; c < pre.channels; c++) {
    const mean = pre.mean[c];
    const std = pre.std[c];
    const source = bgr ? 2 - c : c;
    const plane = out.subarray(c * H * W, (c + 1) * H * W);
    plane.fill((0 - mean) / std);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) plane[(y + padTop) * W + x + padLeft] = (toRange(pixels[(y * w + x) * stride + source]) - mean) / std;
    }
  }
  return out;
}
