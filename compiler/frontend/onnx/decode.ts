/**
 * Reading a .onnx file: the protobuf decoded, checked to be a model with a graph at an opset vggc
 * reads. Everything after this works on the decoded graph.
 */
import * as fs from 'node:fs';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { VggcError } from '../../errors.js';
import { toNumber } from './tensors.js';

const { onnx } = onnxProto;

export interface DecodedModel {
  readonly graph: OnnxTypes.IGraphProto;
  /** The default-domain opset the model declares. */
  readonly opset: number;
}

/** torch.onnx.export writes opsets 7–17; older ones lack the attributes vggc reads. */
const MIN_OPSET = 7;

export function decodeOnnx(modelPath: string): DecodedModel {
  const fail = (msg: string): never => {
    throw new VggcError(`${modelPath}: ${msg}`);
  };
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(modelPath);
  } catch (e) {
    return fail(`cannot read the ONNX model (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  if (/^\s*[{[]/.test(bytes.subarray(0, 64).toString('latin1'))) fail('this is a JSON file, not an ONNX model (a vggc config must not be named .onnx)');
  let model: OnnxTypes.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    return fail(`not a valid ONNX model: protobuf decoding failed (${(e as Error).message}); is the file truncated or not ONNX?`);
  }
  const graph = model.graph;
  if (!graph || (graph.node ?? []).length === 0) return fail('not an ONNX model: it has no graph (or an empty one)');
  const opset = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  const version = opset ? toNumber(opset.version) : 0;
  if (version < MIN_OPSET) fail(`the model uses ONNX opset ${version || '(none declared)'}; vggc reads opsets ${MIN_OPSET} and later (torch.onnx.export opset_version=11…17)`);
  return { graph, opset: version };
}
