/**
 * What every model front end (PyTorch checkpoint, TensorFlow.js LayersModel, ONNX, safetensors)
 * hands to the compiler: the network it found, layer by layer in network order, with each weight as
 * a lazily read tensor in PyTorch's layout. The compiler pairs these by position with its own layer
 * graph's parameters (graph/graph.ts), so no front end needs to know torchvision's key numbering.
 */

/** A tensor in a model file, read on demand (a 400 MB matrix never has to sit in memory whole). */
export interface StoredTensor {
  /** Shape in PyTorch's layout: conv [out, in, 3, 3], linear [out, in], vectors [n]. */
  readonly shape: readonly number[];
  /** For messages: where it came from, e.g. `features.0.weight` or `block1_conv1/kernel`. */
  readonly origin: string;
  /**
   * Elements [start, start + count) in row-major order of `shape`, converted to float32, in a fresh
   * array the caller owns and may modify. Throws a one-line VggcError for a damaged file.
   */
  read(start: number, count: number): Float32Array;
}

export interface ImportedBatchNorm {
  /** γ and β; null when the source has none (Keras `scale: false` / `center: false`): 1 and 0. */
  readonly weight: StoredTensor | null;
  readonly bias: StoredTensor | null;
  readonly runningMean: StoredTensor;
  readonly runningVar: StoredTensor;
  /** ε of the source layer (torch's default 1e-5, Keras's 1e-3). */
  readonly eps: number;
}

export interface ImportedConv {
  /** [out, in, 3, 3]. */
  readonly weight: StoredTensor;
  /** [out]; null when the layer has no bias (zeros). */
  readonly bias: StoredTensor | null;
  readonly batchNorm: ImportedBatchNorm | null;
}

export interface ImportedLinear {
  /** [out, in], `in` in PyTorch's flatten order (c, h, w) for the first layer. */
  readonly weight: StoredTensor;
  readonly bias: StoredTensor | null;
  /** Followed by ReLU. Always false for the last layer. */
  readonly relu: boolean;
}

export interface ImportedNetwork {
  /** The file it came from, for messages. */
  readonly source: string;
  /** A name for the model (the file's base name, or the model's own). */
  readonly name: string;
  /** The seed notebook's (in_channels, num_conv_layers, num_features) per block; each block ends with a 2×2 max-pool. */
  readonly blocks: readonly (readonly [number, number, number])[];
  /** Every convolution in network order (blocks[0]'s first … the last block's last). */
  readonly convs: readonly ImportedConv[];
  /** [height, width] the source fixes (TF.js, ONNX), or null when the file does not say (PyTorch: 224×224 by default). */
  readonly inputSize: readonly [number, number] | null;
  /**
   * Between the last block and the classifier: an adaptive pool to `size` (torchvision's
   * AdaptiveAvgPool2d((7, 7)), Keras's GlobalAveragePooling2D = avg [1, 1], GlobalMaxPooling2D =
   * max [1, 1]), or null to flatten the map as it is.
   */
  readonly headPool: { readonly kind: 'avg' | 'max'; readonly size: readonly [number, number] } | null;
  /** The fully-connected layers in order; the last one's out is the number of classes. */
  readonly linears: readonly ImportedLinear[];
  /** What the source model applies to the last layer's output. */
  readonly finalActivation: 'none' | 'softmax' | 'sigmoid';
  /** The preprocessing convention the source implies (Keras applications: caffe), or null for vggc's default. */
  readonly preprocessing: 'torch' | 'caffe' | 'tf' | null;
  /**
   * The source's own layer names → vggc's conventional names (`block4_conv3` → `relu4_3`,
   * `block4_pool` → `pool4`, `fc1` → `fc6`, `predictions` → `logits`), for naming outputs.
   */
  readonly layerNames: ReadonlyMap<string, string>;
}
