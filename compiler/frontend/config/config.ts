/**
 * The network description vggc compiles: the seed notebook's block list plus what a compiler needs.
 * One block is `(in_channels, num_conv_layers, num_features)`: that many 3×3/pad-1 convolutions with
 * ReLU, then a 2×2 max-pool.
 */
export type Block = readonly [inChannels: number, numConvLayers: number, numFeatures: number];

/** A hidden fully-connected layer: its width, and whether a ReLU (and, in training, Dropout) follows it. */
export interface ClassifierLayer {
  readonly features: number;
  readonly relu: boolean;
}

/** What the model applies to the last layer's output (a Keras head ends in Dense(k, softmax)). */
export type FinalActivation = 'none' | 'softmax' | 'sigmoid';

export interface VggConfig {
  /** Used in generated names and reports; free text. */
  readonly name: string;
  readonly blocks: readonly Block[];
  /** Input image size as [height, width]. */
  readonly inputSize: readonly [height: number, width: number];
  readonly batchNorm: boolean;
  /** ε of the BatchNorm layers: torch's default 1e-5, Keras's 1e-3. */
  readonly batchNormEps: number;
  /** torchvision's AdaptiveAvgPool2d output size [height, width], or null. */
  readonly avgPool: readonly [height: number, width: number] | null;
  /** An adaptive max pool instead (Keras's GlobalMaxPooling2D is [1, 1]), or null; at most one of the two. Neither: flatten directly. */
  readonly maxPool: readonly [height: number, width: number] | null;
  /** The fully-connected layers before the last one (torchvision: 4096 and 4096, each with ReLU). */
  readonly classifier: readonly ClassifierLayer[];
  readonly numClasses: number;
  readonly finalActivation: FinalActivation;
  /**
   * Named outputs (`--outputs`): layers by torchvision's, the seed notebook's, the conventional or the
   * source model's names (outputs/names.ts); null = the model's last tensor. Layers after the last
   * output are not compiled.
   */
  readonly outputs: readonly string[] | null;
  /** How maps are returned: `nchw` (PyTorch's) or `nhwc` (TF.js's). */
  readonly outputLayout: 'nchw' | 'nhwc';
  /** Class names, numClasses of them, or null (predictions then show class indices). */
  readonly labels: readonly string[] | null;
  /** How images become input tensors; null = the defaults for the input size and channel count. */
  readonly preprocessing: PreprocessingConfig | null;
}

/**
 * Image → tensor, in order: decode; convert to the network's channel count; resize; crop or pad to
 * inputSize; put the channels in `channelOrder`; scale 8-bit pixels to `pixelRange`; normalise
 * (x − mean) / std per channel.
 */
export interface PreprocessingConfig {
  /**
   * `shorterSide`: resize so the shorter side has this many pixels, then centre-crop to inputSize
   * (torchvision's Resize(256) + CenterCrop(224)).
   * `fit`: resize to fit inside [height, width] keeping the aspect ratio, then zero-pad centred to
   * inputSize (pad value 0 before normalisation).
   */
  readonly resize: { readonly shorterSide: number } | { readonly fit: readonly [number, number] };
  readonly mean: readonly number[];
  readonly std: readonly number[];
  /** `rgb` (torchvision) or `bgr` (Caffe, Keras's `caffe` mode). */
  readonly channelOrder: 'rgb' | 'bgr';
  /** [0, 1] (pixel / 255, torchvision) or [0, 255] (the pixel as it is, Keras's `caffe` and `tf` modes). */
  readonly pixelRange: readonly [0, 1] | readonly [0, 255];
}

/** Defaults for every field but `blocks`: torchvision's ImageNet VGG. */
export const CONFIG_DEFAULTS = {
  inputSize: [224, 224] as const,
  batchNorm: false,
  batchNormEps: 1e-5,
  avgPool: [7, 7] as const,
  classifier: [4096, 4096] as const,
  numClasses: 1000,
  finalActivation: 'none' as const,
};

/** WebAssembly memory32 cannot address more than 65,536 pages of 64 KiB. */
export const WASM_MAX_BYTES = 4 * 1024 * 1024 * 1024;
