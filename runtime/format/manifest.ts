/**
 * model.json: everything the runtime needs to know about a compiled model, written by `vggc compile`.
 * Shared by the compiler (writer) and the runtime (reader); plain data, no Node built-ins.
 */

export const MANIFEST_FORMAT = 'vggc-model';
/**
 * 2: named outputs (`outputs`) replace the one `output`.
 * 3: the weights are `weights.shards`, files of raw payload bytes each with its hashes, replacing the
 *    one weights.bin with a 64-byte header (`weights.file`, `weights.headerBytes`).
 * 4: each shard's `xxh64` (what loaders check) replaces its `crc32`.
 */
export const MANIFEST_VERSION = 4;

/**
 * One file of the weights payload: payload bytes [offset, offset + bytes), nothing else in it (no
 * header), so a loader copies it straight to memory.weightsBase + offset. The shards tile the
 * payload in order, without gaps or overlaps.
 */
export interface WeightShard {
  /** A plain file name in the model folder: `weights-000.bin`…, or `weights.bin` when unsharded. */
  readonly file: string;
  readonly offset: number;
  readonly bytes: number;
  /** Hex SHA-256 of the file: for people and tools (sha256sum), and the Cache API's key. */
  readonly sha256: string;
  /**
   * XXH64 (seed 0, 16 hex digits, what `xxhsum -H1` prints) of the file: what every loader
   * verifies by default, in wasm at ~11–12 GB/s, ~3× zlib's CRC-32 and ~8× SHA-256 (README,
   * "Verification"). Detects damage, not a forged shard (`verify: 'sha256'` checks sha256 instead).
   */
  readonly xxh64: string;
}

export interface ManifestStep {
  /**
   * Exported wasm function `(start: i32, end: i32, worker: i32) => void`: runs work items
   * [start, end) of the step's `workItems` independent items, using worker `worker`'s scratch.
   */
  readonly function: string;
  readonly kind: 'pack-input' | 'conv' | 'pool-flatten' | 'linear' | 'output-activation' | 'map-activation' | 'vector-relu';
  /** `image`: run once per image (after writing the image and its index); `batch`: once per group of images. */
  readonly phase: 'image' | 'batch';
  readonly kernel: string;
  readonly workItems: number;
  /**
   * Consecutive items that share set-up work when one call runs them together (a Winograd block's
   * output-channel groups share its input transform): threads claim whole grains where they can.
   * Optional (written since the work-sharing threads; 1 when absent), so older model folders load.
   */
  readonly workGrain?: number;
  readonly macs: number;
  readonly description: string;
  /** Where the step writes its result (for debugging and per-layer tests). */
  readonly output: StepTensor;
}

/**
 * An activation in the arena. `nhwc-pad1`: rows × cols pixels × channelStride floats, the map's
 * interior starting at pixel (1, 1), everything around it zero.
 */
export interface StepTensor {
  readonly offset: number;
  readonly bytes: number;
  readonly layout: 'nchw' | 'nhwc-pad1' | 'vector';
  /** [c, h, w] for maps, [length] for vectors. */
  readonly shape: readonly number[];
  readonly channelStride?: number;
  readonly rows?: number;
  readonly cols?: number;
  /** Vectors: floats between consecutive images' vectors. */
  readonly imageStride?: number;
}

/**
 * Image → tensor, in order: decode; convert to `channels` (1: grayscale, 3: RGB); resize; crop or pad to
 * the input size; put the channels in `channelOrder`; scale pixels to `pixelRange`; normalise
 * (x − mean) / std per channel.
 */
export interface Preprocessing {
  readonly channels: number;
  /**
   * `shorterSide`: resize so the shorter side has this many pixels, then centre-crop (torchvision's
   * Resize + CenterCrop). `fit`: resize to fit inside [height, width], then zero-pad centred.
   */
  readonly resize: { readonly shorterSide: number } | { readonly fit: readonly number[] };
  readonly mean: readonly number[];
  readonly std: readonly number[];
  /** `bgr`: the channels are reversed (Caffe, Keras's `caffe`); absent = `rgb`. */
  readonly channelOrder?: 'rgb' | 'bgr';
  /** [0, 255]: pixels as they are before mean/std; absent = [0, 1] (pixel / 255). */
  readonly pixelRange?: readonly number[];
}

/** A named output: what infer() / inferAll() return, and where it is in wasm memory. */
export interface ManifestOutput {
  /** As it was asked for (`relu4_3`, `features.22`, `block4_conv3`), or `logits` / `probabilities`. */
  readonly name: string;
  /** Per image: [c, h, w] for maps, [features] for vectors. */
  readonly shape: readonly number[];
  /**
   * How it is returned: maps as NCHW (PyTorch's) or NHWC (TF.js's), vectors as features;
   * `features-hwc` is a flattened map (`flattened`) in Keras's (h, w, c) order rather than (c, h, w).
   */
  readonly layout: 'nchw' | 'nhwc' | 'features' | 'features-hwc';
  /** A flatten of a map: that map's [c, h, w]. */
  readonly flattened?: readonly number[];
  /** `image`: readable after an image's per-image steps; `batch`: after the classifier, for every image of the group. */
  readonly phase: 'image' | 'batch';
  /** Where the step that computes it stores it. */
  readonly tensor: StepTensor;
}

export interface ManifestPrepare {
  readonly function: string;
  readonly workItems: number;
  readonly kernel: string;
  /** Bytes of memory it fills (the transformed filter). */
  readonly bytes: number;
}

export interface Manifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly formatVersion: number;
  readonly vggcVersion: string;
  readonly name: string;
  /** The validated config the model was compiled from (defaults filled in). */
  readonly config: {
    readonly name: string;
    readonly blocks: readonly (readonly number[])[];
    readonly inputSize: readonly number[];
    readonly batchNorm: boolean;
    /** Absent in manifests written before it existed (= 1e-5). */
    readonly batchNormEps?: number;
    readonly avgPool: readonly number[] | null;
    /** Absent in manifests written before it existed (= null). */
    readonly maxPool?: readonly number[] | null;
    /** Hidden layers: a width (Linear + ReLU), or `{ features, relu: false }`. */
    readonly classifier: readonly (number | { readonly features: number; readonly relu: boolean })[];
    readonly numClasses: number;
    /** What the outputs are: logits (`none`, also when absent) or probabilities (`softmax`, `sigmoid`). */
    readonly finalActivation?: 'none' | 'softmax' | 'sigmoid';
    /** The outputs asked for, or null for the model's last tensor. */
    readonly outputs?: readonly string[] | null;
    readonly outputLayout?: 'nchw' | 'nhwc';
    readonly labels: readonly string[] | null;
    readonly preprocessing: unknown;
  };
  readonly kernels: 'wasmsimd' | 'scalar-ref';
  /** The deterministic build (bit-identical on every engine), and its relaxed-SIMD twin if compiled. */
  readonly wasm: {
    readonly file: string;
    readonly bytes: number;
    readonly sha256: string;
    readonly relaxed: { readonly file: string; readonly bytes: number; readonly sha256: string } | null;
  };
  readonly weights: {
    readonly payloadBytes: number;
    /** SHA-256 of the whole payload (the shards in order): model.wasm's tag names the weights by it. */
    readonly sha256: string;
    readonly source: string;
    /**
     * How weights are stored (`vggc compile --weights-dtype`): f32, or f16/int8 — fully-connected
     * weights dequantised in the kernels, Winograd filters dequantised and transformed at load by the
     * `prepare` functions, direct-convolution filters stored as f32 rounded to the dtype's values.
     * Absent in manifests written before it existed (= f32).
     */
    readonly dtype?: 'f32' | 'f16' | 'int8';
    readonly tensors: readonly { readonly key: string; readonly shape: readonly number[]; readonly layout: string; readonly offset: number; readonly byteLength: number }[];
    /** The files holding the payload, in payload order (`vggc compile --shard-size`). */
    readonly shards: readonly WeightShard[];
  };
  readonly memory: {
    /** Pages of 64 KiB the runtime must provide. */
    readonly pages: number;
    readonly arenaBase: number;
    readonly arenaBytes: number;
    readonly peakLiveBytes: number;
    /** Where the weights payload goes in wasm memory (shard at `offset` → weightsBase + offset). */
    readonly weightsBase: number;
    /** model.wasm imports a shared memory (threads run layers on it); every vggc model does. */
    readonly shared: true;
    /** Most threads the model's scratch areas were planned for. */
    readonly maxWorkers: number;
    /** Address of the run parameters (format/run-params.ts: two i32, image index and image count). */
    readonly params: number;
  };
  /** One image, C×H×W float32, is written here before the first step. */
  readonly input: { readonly offset: number; readonly shape: readonly [number, number, number] };
  /** The named outputs, the first being what infer() returns (without --outputs: the logits or probabilities). */
  readonly outputs: readonly ManifestOutput[];
  /**
   * Images per group: the `image` steps run for each image of a group, then the `batch` steps once.
   * Before an `image` step the host writes the image's index (i32) at memory.params; before the
   * `batch` steps, the group's image count at memory.params + 4.
   */
  readonly maxBatch: number;
  readonly steps: readonly ManifestStep[];
  /**
   * Functions the runtime calls once at load, after the weights are in memory and before any step,
   * each over work items [0, workItems): the Winograd filter transforms of f16/int8 models. Absent or
   * empty for f32 models.
   */
  readonly prepare?: readonly ManifestPrepare[];
  readonly preprocessing: Preprocessing;
  /** Class names (numClasses of them), or null when none were given. */
  readonly labels: readonly string[] | null;
  readonly totals: { readonly params: number; readonly macs: number };
}
