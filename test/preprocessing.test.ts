/**
 * Preprocessing conventions (config `preprocessing`, `--preprocessing torch|caffe|tf`): channel order
 * and pixel range, computed by hand from Keras's and torchvision's definitions and compared with what
 * imageToTensor (sharp) makes of a real PNG whose pixels are known.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../compiler/frontend/config/parse.js';
import { preprocessingFor } from '../compiler/pipeline.js';
import { imageToTensor } from '../runtime/images/node.js';
import { isVggcError } from '../runtime/index.js';
import { errorOf, tempDir } from './helpers.js';

const work = tempDir('vggc-pre-');
// A 4×4 RGB image, each pixel distinct per channel, so that a wrong channel order or scale shows.
const W = 4;
const H = 4;
const rgb = Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 37 + 11) % 256);

/** The input imageToTensor makes of the image for a model with `preprocessing` (the 4×4 input needs no resize). */
async function tensorFor(preprocessing: unknown): Promise<Float32Array> {
  const file = join(work, 'rgb.png');
  await sharp(Buffer.from(rgb), { raw: { width: W, height: H, channels: 3 } }).png().toFile(file);
  const config = parseConfig(JSON.stringify({ blocks: [[3, 1, 8], [8, 1, 8]], inputSize: [H, W], avgPool: null, classifier: [], numClasses: 2, preprocessing }), 'c.json');
  return imageToTensor(file, preprocessingFor(config), [H, W]);
}

/** Keras's preprocess_input / torchvision's Normalize, written out per pixel. */
function expected(order: 'rgb' | 'bgr', divisor: number, mean: number[], std: number[]): Float32Array {
  const out = new Float32Array(3 * H * W);
  for (let c = 0; c < 3; c++) for (let p = 0; p < H * W; p++) {
    const source = order === 'bgr' ? 2 - c : c;
    out[c * H * W + p] = (rgb[p * 3 + source] / divisor - mean[c]) / std[c];
  }
  return out;
}

describe('preprocessing conventions', () => {
  const fit = { resize: { fit: [H, W] } };
  it('torch: RGB, pixel / 255, ImageNet mean and std', async () => {
    const got = await tensorFor({ ...fit, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
    expect(got).toEqual(expected('rgb', 255, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]));
  });
  it('caffe: BGR, 0–255, the ImageNet means in BGR order, no std', async () => {
    const got = await tensorFor({ ...fit, mean: [103.939, 116.779, 123.68], std: [1, 1, 1], channelOrder: 'bgr', pixelRange: [0, 255] });
    expect(Array.from(got)).toEqual(Array.from(expected('bgr', 1, [103.939, 116.779, 123.68], [1, 1, 1])));
  });
  it('the named conventions expand to those values (resize as torchvision evaluates)', () => {
    const pre = (name: string) => preprocessingFor(parseConfig(JSON.stringify({ blocks: [[3, 1, 8]], preprocessing: name }), 'c.json'));
    expect(pre('caffe')).toEqual({ channels: 3, resize: { shorterSide: 256 }, mean: [103.939, 116.779, 123.68], std: [1, 1, 1], channelOrder: 'bgr', pixelRange: [0, 255] });
    expect(pre('tf')).toEqual({ channels: 3, resize: { shorterSide: 256 }, mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5], channelOrder: 'rgb', pixelRange: [0, 255] });
    expect(pre('torch')).toEqual({ channels: 3, resize: { shorterSide: 256 }, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], channelOrder: 'rgb', pixelRange: [0, 1] });
  });
  it('bad values are one-line errors naming the field', () => {
    const bad = (preprocessing: unknown, blocks = [[3, 1, 8]]) => errorOf(() => parseConfig(JSON.stringify({ blocks, preprocessing }), 'c.json'));
    expect(bad('keras')).toBe('c.json: preprocessing must be "torch", "caffe", "tf" or an object with resize, mean and std, found "keras"');
    expect(bad({ resize: { shorterSide: 256 }, mean: [0, 0, 0], std: [1, 1, 1], channelOrder: 'grb' })).toBe('c.json: preprocessing.channelOrder must be "rgb" or "bgr", found "grb"');
    expect(bad({ resize: { shorterSide: 256 }, mean: [0, 0, 0], std: [1, 1, 1], pixelRange: [0, 128] })).toBe('c.json: preprocessing.pixelRange must be [0, 1] (pixel / 255) or [0, 255] (the pixel as it is), found [0,128]');
    expect(bad('caffe', [[1, 1, 8]])).toBe('c.json: preprocessing "caffe" is defined for 3-channel (RGB) models; this one takes 1 channel(s)');
  });

  it('an image whose pixels are cut off half-way is a one-line error, also where it is resized and cropped', async () => {
    // Noise compresses badly, so half of each file is a whole header and part of the pixels.
    const noise = Buffer.from(Array.from({ length: 100 * 80 * 3 }, (_, i) => (Math.imul(i + 1, 2654435761) >>> 24) & 255));
    const torch = { channels: 3, resize: { shorterSide: 32 }, mean: [0, 0, 0], std: [1, 1, 1] };
    for (const format of ['png', 'jpeg'] as const) {
      const whole = await sharp(noise, { raw: { width: 100, height: 80, channels: 3 } }).toFormat(format).toBuffer();
      const half = join(work, `half.${format}`);
      writeFileSync(half, whole.subarray(0, whole.length >> 1));
      for (const [pre, size] of [[torch, [32, 32]], [{ ...torch, resize: { fit: [80, 100] } }, [80, 100]]] as const) {
        const error = await imageToTensor(half, pre, size).then(() => null, (e: unknown) => e);
        expect(isVggcError(error), String(error)).toBe(true);
        expect((error as Error).message).toMatch(new RegExp(`^${half}: cannot decode the image \\(`));
      }
    }
  });
});
