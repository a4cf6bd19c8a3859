/**
 * Where parameter values come from: a safetensors file or seeded random initialisation.
 * A WeightSource hands out rows of one tensor at a time (row = index along dim 0, all other dims
 * flattened), always as float32, so the packer can stream a 400 MB matrix in small slices.
 */
import type { ParamTensor } from '../graph/graph.js';

export interface WeightSource {
  /** For messages: the file path, or `seeded random weights (seed 0)`. */
  readonly description: string;
  /**
   * Rows [rowStart, rowEnd) of `param`, row-major, converted to float32, in a fresh array the caller
   * owns and may modify (BatchNorm folding and quantisation rewrite it in place).
   */
  readRows(param: ParamTensor, rowStart: number, rowEnd: number): Float32Array;
  close(): void;
}
