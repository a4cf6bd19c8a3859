/**
 * The config's `preprocessing`: an object (resize, mean, std, channelOrder, pixelRange) or the name of
 * one of the three conventions Keras's `preprocess_input` knows (`--preprocessing` on the CLI):
 * - `torch`: RGB, pixels / 255, ImageNet mean and std (torchvision, and vggc's default);
 * - `caffe`: BGR, pixels as they are (0–255), the ImageNet means [103.939, 116.779, 123.68] (in BGR
 *   order) subtracted, no std (keras.applications.vgg16/vgg19);
 * - `tf`: RGB, pixels as they are, (x − 127.5) / 127.5, i.e. scaled to [−1, 1].
 * Every convention resizes as torchvision's evaluation transform does (shorter side to 256/224 of the
 * input, centre crop), unless an object says otherwise.
 */
import type { PreprocessingConfig } from './config.js';

export const PREPROCESSING_PRESETS = ['torch', 'caffe', 'tf'] as const;
export type PreprocessingPreset = (typeof PREPROCESSING_PRESETS)[number];

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];
/** Keras's caffe means, in the BGR order the channels are in by then. */
const CAFFE_MEAN_BGR = [103.939, 116.779, 123.68];
/** torchvision's ImageNet evaluation transform: resize to 256, centre crop 224. */
const RESIZE_RATIO = 256 / 224;

/** torchvision's resize for an input of this size: the shorter side to 256/224 of it, then a centre crop. */
export const defaultResize = (inputSize: readonly [number, number]): PreprocessingConfig['resize'] => ({ shorterSide: Math.round(Math.min(...inputSize) * RESIZE_RATIO) });

/**
 * A convention for a model with `channels` input channels. For anything but 3 channels only `torch`
 * applies (mean and std 0.5 per channel, as vggc's grayscale default): the others are defined on RGB.
 */
export function presetPreprocessing(preset: PreprocessingPreset, channels: number, inputSize: readonly [number, number], fail: (m: string) => never): PreprocessingConfig {
  const resize = defaultResize(inputSize);
  const rgb = channels === 3;
  if (!rgb && preset !== 'torch') fail(`preprocessing "${preset}" is defined for 3-channel (RGB) models; this one takes ${channels} channel(s)`);
  switch (preset) {
    case 'torch':
      return { resize, mean: rgb ? IMAGENET_MEAN : new Array(channels).fill(0.5), std: rgb ? IMAGENET_STD : new Array(channels).fill(0.5), channelOrder: 'rgb', pixelRange: [0, 1] };
    case 'caffe':
      return { resize, mean: CAFFE_MEAN_BGR, std: [1, 1, 1], channelOrder: 'bgr', pixelRange: [0, 255] };
    case 'tf':
      return { resize, mean: [127.5, 127.5, 127.5], std: [127.5, 127.5, 127.5], channelOrder: 'rgb', pixelRange: [0, 255] };
  }
}

export const isPreset = (v: unknown): v is PreprocessingPreset => typeof v === 'string' && (PREPROCESSING_PRESETS as readonly string[]).includes(v);
