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
