/** Small readers of ONNX nodes: attributes, integer constants, names for messages. */
import type { onnx as OnnxTypes } from 'onnx-proto';
import { VggcError } from '../../errors.js';
import { toNumber, typeName } from './tensors.js';

export type NodeProto = OnnxTypes.INodeProto;
export type TensorProto = OnnxTypes.ITensorProto;
type AttributeProto = OnnxTypes.IAttributeProto;

export type Attributes = ReadonlyMap<string, AttributeProto>;

/** For messages: every op the importer reads. */
export const SUPPORTED_OPS = 'Conv, BatchNormalization, Relu, MaxPool, AveragePool, GlobalAveragePool, Flatten, Reshape, Gemm, MatMul, Add, Dropout, Identity (and Shape, Gather, Unsqueeze, Concat, Constant for the flatten shape)';

export function attributes(node: NodeProto): Attributes {
  return new Map((node.attribute ?? []).map((a) => [a.name ?? '', a]));
}
export const attr = (a: Attributes, name: string): AttributeProto | undefined => a.get(name);
export const ints = (a: Attributes, name: string): number[] | undefined => {
  const v = a.get(name);
  return v ? (v.ints ?? []).map(toNumber) : undefined;
};
export const int = (a: Attributes, name: string, fallback: number): number => toNumber(a.get(name)?.i ?? fallback);
export const str = (a: Attributes, name: string): string | undefined => {
  const v = a.get(name)?.s;
  return v ? new TextDecoder().decode(v) : undefined;
};

export function describeNode(node: NodeProto, index: number): string {
  return node.name ? `node ${JSON.stringify(node.name)} (${node.opType})` : `node #${index} (${node.opType}, unnamed)`;
}

export const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Integer contents of a small constant tensor (INT64 or INT32; raw or typed fields). */
export function intValues(t: TensorProto, modelPath: string): number[] {
  const type = t.dataType ?? 0;
  const raw = t.rawData;
  const name = JSON.stringify(t.name ?? '');
  if (raw && raw.length > 0) {
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out: number[] = [];
    if (type === 7) for (let i = 0; i + 8 <= raw.length; i += 8) out.push(Number(view.getBigInt64(i, true)));
    else if (type === 6) for (let i = 0; i + 4 <= raw.length; i += 4) out.push(view.getInt32(i, true));
    else if (type === 9 || type === 2) for (let i = 0; i < raw.length; i++) out.push(raw[i]);
    else throw new VggcError(`${modelPath}: tensor ${name} has data type ${typeName(type)} where integers were expected`);
    return out;
  }
  if (type === 7) return (t.int64Data ?? []).map(toNumber);
  if (type === 6 || type === 9 || type === 2) return [...(t.int32Data ?? [])];
  throw new VggcError(`${modelPath}: tensor ${name} has data type ${typeName(type)} where integers were expected`);
}
