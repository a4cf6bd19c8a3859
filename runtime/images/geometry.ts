/**
 * Where an image lands in the model's input, the same for Node (images/node.ts, sharp) and browsers
 * (images/browser.ts, canvas): torchvision's Resize(shorterSide) + CenterCrop, or a fit inside a box
 * with centred zero padding.
 */
import { VggcError } from '../format/errors.js';
import type { Preprocessing } from '../format/manifest.js';

export interface ImageGeometry {
  /** The image after resizing. */
  readonly width: number;
  readonly height: number;
  /** Where the crop starts in the resized image (shorterSide). */
  readonly cropLeft: number;
  readonly cropTop: number;
  /** Where the (cropped) image starts in the input; the rest is zero padding (fit). */
  readonly padLeft: number;
  readonly padTop: number;
  /** The visible part: what is drawn into the input. */
  readonly visibleWidth: number;
  readonly visibleHeight: number;
}

/** `label` starts the error when the resized image is smaller than the crop (a file name, or "the image"). */
export function imageGeometry(srcW: number, srcH: number, pre: Preprocessing, inputSize: readonly number[], label: string): ImageGeometry {
  const [H, W] = inputSize;
  let w = srcW;
  let h = srcH;
  if ('shorterSide' in pre.resize) {
    const s = pre.resize.shorterSide;
    // torchvision Resize(int): shorter side → s, longer side scaled and truncated.
    if (w <= h) [w, h] = [s, Math.floor((s * h) / w)];
    else [w, h] = [Math.floor((s * w) / h), s];
    if (w < W || h < H) throw new VggcError(`${label}: resized to ${w}×${h}, smaller than the ${W}×${H} crop`);
    // torchvision CenterCrop: offsets rounded to nearest.
    return { width: w, height: h, cropLeft: Math.round((w - W) / 2), cropTop: Math.round((h - H) / 2), padLeft: 0, padTop: 0, visibleWidth: W, visibleHeight: H };
  }
  const [fh, fw] = pre.resize.fit;
  if (w > fw || h > fh) {
    const scale = Math.min(fw / w, fh / h);
    [w, h] = [Math.max(1, Math.round(w * scale)), Math.max(1, Math.round(h * scale))];
  }
  return { width: w, height: h, cropLeft: 0, cropTop: 0, padLeft: Math.floor((W - w) / 2), padTop: Math.floor((H - h) / 2), visibleWidth: Math.min(w, W), visibleHeight: Math.min(h, H) };
}
