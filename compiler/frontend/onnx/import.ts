/**
 * ONNX import: a torchvision-style VGG exported with torch.onnx.export (opsets 7–17, with or without
 * BatchNorm, weights inline or in external data files) → the network it implements (ImportedNetwork),
 * its config, and a WeightSource over its initializers.
 *
 * decode.ts reads the protobuf; walker.ts walks the graph from its input in topological order, as a
 * state machine over the one activation that flows through a VGG:
 *
 *   per block:   (Conv 3×3/pad 1 [BatchNormalization] Relu)+ MaxPool 2×2
 *   then:        [AveragePool k×k/stride k | GlobalAveragePool]  Flatten | Reshape
 *   classifier:  (Gemm | MatMul+Add) Relu  …  (Gemm | MatMul+Add)
 *   anywhere:    Dropout, Identity (no-ops at inference)
 *
 * with one handler per operator in ops.ts, plus the small constant/shape subgraph torch emits for
 * `x.view(x.shape[0], -1)` (shapes.ts). Weights are taken by their position in this structure, never
 * by initializer name (torch names them `features.0.weight` or `onnx::Conv_33`), and paired with the
 * layer graph's own parameters by position (frontend/network.ts).
 *
 * How torch 1.13 exports torchvision's AdaptiveAvgPool2d((h, w)) for a fixed input size, and how it
 * maps back to the config's avgPool:
 *   - map already h×w: AveragePool kernel [1,1] strides [1,1]           → avgPool [h, w]
 *   - map a multiple of h×w: AveragePool kernel = strides = map / out   → avgPool [h, w]
 *   - output (1, 1): GlobalAveragePool                                  → avgPool [1, 1]
 *   - any other size (not a factor, or upsampling): torch refuses to export.
 *   - nn.Identity / no avg-pool (the seed notebook's avgPool null): nothing → avgPool null.
 * By default (TrainingMode.EVAL) torch also folds each BatchNorm into its Conv, so such a model
 * imports as batchNorm false with the folded weights; exported with TrainingMode.PRESERVE the
 * BatchNormalization nodes stay and import as batchNorm true.
 *
 * Every problem is one VggcError line starting with the .onnx path and naming the node (name and
 * op type) or the tensor.
 */
import * as os from 'node:os';
import * as path from 'node:path';
import { VggcError } from '../../errors.js';
import type { VggConfig } from '../config/config.js';
import { validateConfig } from '../config/parse.js';
import { BATCHNORM_EPS, buildGraph, type ParamTensor } from '../../graph/graph.js';
import type { WeightSource } from '../../weights/source.js';
import type { ImportedNetwork, StoredTensor } from '../imported.js';
import { networkConfig, pairByPosition, pairedSource, pairingOrigins, type NetworkOverrides, type PairingOptions } from '../network.js';
import { decodeOnnx } from './decode.js';
import { FileCache, readElements } from './tensors.js';
import { walkGraph, type WalkResult, type WeightRef } from './walker.js';

export type OnnxWeightOptions = PairingOptions;

export interface OnnxImport {
  readonly config: VggConfig;
  readonly network: ImportedNetwork;
  /** Opens the model's weights for the parameter list of buildGraph(config) (torchvision keys). */
  readonly source: (params: readonly ParamTensor[], opts?: OnnxWeightOptions) => WeightSource;
  /** How each torchvision key maps to the ONNX graph, e.g. `features.0.weight ← onnx::Conv_33`. */
  readonly mapping: ReadonlyMap<string, string>;
}

export function importOnnx(modelPath: string, overrides: Pick<NetworkOverrides, 'preprocessing'> = {}): OnnxImport {
  if (os.endianness() !== 'LE') throw new Error('vggc needs a little-endian host');
  const fail = (msg: string): never => {
    throw new VggcError(`${modelPath}: ${msg}`);
  };
  const { graph, opset } = decodeOnnx(modelPath);
  const walk = walkGraph(modelPath, graph, opset);
  const files = new FileCache(modelPath);
  /** Whole transposed matrices, read once (a column of the stored matrix is a row of torch's); dropped at close. */
  const transposed = new Map<WeightRef, Float32Array>();
  const network = toNetwork(modelPath, walk, (ref) => onnxTensor(ref, files, transposed));
  // The project's own validation (positive sizes, chained blocks, the input surviving every pool).
  const config = validateConfig(networkConfig(network, overrides, fail), `${modelPath} (derived config)`);
  const pairs = pairByPosition(network, buildGraph(config), fail);
  const close = (): void => {
    files.close();
    transposed.clear();
  };
  return { config, network, mapping: pairingOrigins(pairs), source: (params, opts = {}) => pairedSource(modelPath, pairs, params, opts, close) };
}

function toNetwork(modelPath: string, walk: WalkResult, tensor: (ref: WeightRef) => StoredTensor): ImportedNetwork {
  const orNull = (ref: WeightRef | null): StoredTensor | null => (ref?.tensor ? tensor(ref) : null);
  return {
    source: modelPath,
    name: path.basename(modelPath).replace(/\.onnx$/i, '') || 'model',
    blocks: walk.blocks,
    convs: walk.convs.map((c) => ({
      weight: tensor(c.weight),
      bias: orNull(c.bias),
      batchNorm: c.bn ? { weight: tensor(c.bn.weight), bias: tensor(c.bn.bias), runningMean: tensor(c.bn.runningMean), runningVar: tensor(c.bn.runningVar), eps: BATCHNORM_EPS } : null,
    })),
    inputSize: walk.inputSize,
    headPool: walk.avgPool ? { kind: 'avg', size: walk.avgPool } : null,
    linears: walk.linears.map((l) => ({ weight: tensor(l.weight), bias: orNull(l.bias), relu: l.relu })),
    finalActivation: 'none',
    preprocessing: null,
    layerNames: new Map(),
  };
}

/** A weight of the graph as a StoredTensor in torch's layout (MatMul/Gemm transB=0 store [in, out]). */
function onnxTensor(ref: WeightRef, files: FileCache, transposed: Map<WeightRef, Float32Array>): StoredTensor {
  const t = ref.tensor!;
  return {
    shape: ref.shape,
    origin: ref.origin,
    read(start, count) {
      if (!ref.transposed) return readElements(t, start, count, files);
      const [rows, cols] = ref.shape;
      let full = transposed.get(ref);
      if (!full) {
        full = readElements(t, 0, rows * cols, files);
        transposed.set(ref, full);
      }
      const out = new Float32Array(count);
      for (let e = 0; e < count; e++) {
        const r = Math.floor((start + e) / cols);
        out[e] = full[((start + e) % cols) * rows + r];
      }
      return out;
    },
  };
}
