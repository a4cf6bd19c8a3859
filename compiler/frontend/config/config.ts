/**
 * The network description vggc compiles: the seed notebook's block list plus what a compiler needs.
 * One block is `(in_channels, num_conv_layers, num_features)`: that many 3×3/pad-1 convolutions with
 * ReLU, then a 2×2 max-pool.
 */
export type Block = readonly [inChannels: number, numConvLayers: number, numFeatures: number];

export interface VggConfig {
  /** Used in generated names and reports; free text. */
  readonly name: string;
  readonly blocks: readonly Block[];
  /** Input image size as [height, width]. */
  readonly inputSize: readonly [height: number, width: number];
  readonly batchNorm: boolean;
  /** torchvision's AdaptiveAvgPool2d output size [height, width], or null to flatten directly. */
  readonly avgPool: readonly [height: number, width: number] | null;
  /** Hidden widths of the fully-connected layers before the last one (torchvision: [4096, 4096]). */
  readonly classifier: readonly number[];
  readonly numClasses: number;
  /** Class names, numClasses of them, or null (predictions then show class indices). */
  readonly labels: readonly string[] | null;
  /** How images become input tensors; null = the defaults for the input size and channel count. */
  readonly preprocessing: PreprocessingConfig | null;
}

/**
 * Image → tensor, in order: decode; convert to the network's channel count; resize; crop or pad to
 * inputSize; scale pixels to [0, 1]; normalise (x − mean) / std per channel.
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
}

/** Defaults for every field but `blocks`: torchvision's ImageNet VGG. */
export const CONFIG_DEFAULTS = {
  inputSize: [224, 224] as const,
  batchNorm: false,
  avgPool: [7, 7] as const,
  classifier: [4096, 4096] as const,
  numClasses: 1000,
};

/** WebAssembly memory32 cannot address more than 65,536 pages of 64 KiB. */
export const WASM_MAX_BYTES = 4 * 1024 * 1024 * 1024;
