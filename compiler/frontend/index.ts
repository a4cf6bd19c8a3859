/**
 * The compiler's model input: a config JSON (weights from --weights or seeded), or an ONNX model
 * (config derived from its graph, weights from its initializers). One call for the pipeline.
 */
import { readConfigFile } from './config/parse.js';
import type { VggConfig } from './config/config.js';
import type { ParamTensor } from '../graph/graph.js';
import type { WeightSource } from '../weights/source.js';
import { VggcError } from '../errors.js';
import { importOnnx, type OnnxWeightOptions } from './onnx/import.js';

export { importOnnx, type OnnxImport, type OnnxWeightOptions } from './onnx/import.js';

export interface ModelInput {
  readonly config: VggConfig;
  /**
   * For an ONNX model: opens its own weights (then --weights must not be given). null for a config
   * JSON: the caller opens --weights or seeded random weights as before.
   */
  readonly openWeights: ((params: readonly ParamTensor[], opts?: OnnxWeightOptions) => WeightSource) | null;
}

export const isOnnxPath = (file: string): boolean => /\.onnx$/i.test(file);

/**
 * `file` ending in `.onnx` → importOnnx; anything else → readConfigFile. `weightsPath` is refused
 * for ONNX models, whose weights are their initializers.
 */
export function readModelInput(file: string, weightsPath?: string): ModelInput {
  if (!isOnnxPath(file)) return { config: readConfigFile(file), openWeights: null };
  if (weightsPath) throw new VggcError(`${file}: an ONNX model carries its own weights (its initializers); do not pass --weights (${weightsPath})`);
  const imported = importOnnx(file);
  return { config: imported.config, openWeights: imported.source };
}
