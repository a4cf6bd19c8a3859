// A tiny VGG as an ONNX ModelProto, built with onnx-proto (no PyTorch needed): used by the ONNX
// error tests and the ONNX fuzzer.
import type { onnx as OnnxTypes } from 'onnx-proto';

// --- a tiny VGG: input 1×1×4×4, Conv 1→2 (+BN), Relu, MaxPool, [avg-pool], Flatten, Gemm 8→3 -------

export const FLOAT = 1;
export function tensor(name: string, dims: number[], data: ArrayLike<number>, dataType = FLOAT): OnnxTypes.ITensorProto {
  const f = Float32Array.from(data);
  return { name, dims, dataType, rawData: new Uint8Array(f.buffer) };
}
export const ramp = (n: number, scale: number, shift = 0) => Array.from({ length: n }, (_, i) => (((i * 7) % 11) - 5) * scale + shift);
export const attrInts = (name: string, ints: number[]): OnnxTypes.IAttributeProto => ({ name, type: 7, ints });
export const attrInt = (name: string, i: number): OnnxTypes.IAttributeProto => ({ name, type: 2, i });
export const attrFloat = (name: string, f: number): OnnxTypes.IAttributeProto => ({ name, type: 1, f });
export const convAttrs = () => [attrInts('kernel_shape', [3, 3]), attrInts('pads', [1, 1, 1, 1]), attrInts('strides', [1, 1]), attrInt('group', 1), attrInts('dilations', [1, 1])];
export const poolAttrs = () => [attrInts('kernel_shape', [2, 2]), attrInts('strides', [2, 2]), attrInts('pads', [0, 0, 0, 0]), attrInt('ceil_mode', 0)];

export interface Tiny {
  bn?: boolean;
  eps?: number;
  activation?: string;
  height?: number | string;
  batch?: number | string;
  matmul?: boolean;
}
export const W = { conv: ramp(18, 0.05), convB: [0.1, -0.2], fc: ramp(24, 0.03), fcB: [0.01, 0.02, 0.03] };

export function tinyModel(o: Tiny = {}): OnnxTypes.IModelProto {
  const dim = (v: number | string) => (typeof v === 'number' ? { dimValue: v } : { dimParam: v });
  const nodes: OnnxTypes.INodeProto[] = [];
  const inits: OnnxTypes.ITensorProto[] = [tensor('onnx::Conv_1', [2, 1, 3, 3], W.conv), tensor('onnx::Conv_2', [2], W.convB)];
  nodes.push({ name: '/features/features.0/Conv', opType: 'Conv', input: ['input', 'onnx::Conv_1', 'onnx::Conv_2'], output: ['c0'], attribute: convAttrs() });
  let x = 'c0';
  if (o.bn) {
    inits.push(tensor('bn.w', [2], [1.5, 0.5]), tensor('bn.b', [2], [0.1, 0.2]), tensor('bn.m', [2], [0.05, -0.05]), tensor('bn.v', [2], [0.8, 1.3]));
    nodes.push({ name: '/features/features.1/BatchNormalization', opType: 'BatchNormalization', input: [x, 'bn.w', 'bn.b', 'bn.m', 'bn.v'], output: ['b0'], attribute: [attrFloat('epsilon', o.eps ?? 1e-5), attrFloat('momentum', 0.9)] });
    x = 'b0';
  }
  nodes.push({ name: '/features/features.1/Act', opType: o.activation ?? 'Relu', input: [x], output: ['r0'] });
  nodes.push({ name: '/features/features.2/MaxPool', opType: 'MaxPool', input: ['r0'], output: ['p0'], attribute: poolAttrs() });
  nodes.push({ name: '/Flatten', opType: 'Flatten', input: ['p0'], output: ['f0'], attribute: [attrInt('axis', 1)] });
  if (o.matmul) {
    const t = new Float32Array(24);
    for (let r = 0; r < 3; r++) for (let i = 0; i < 8; i++) t[i * 3 + r] = W.fc[r * 8 + i];
    inits.push(tensor('onnx::MatMul_3', [8, 3], t), tensor('fc.b', [3], W.fcB));
    nodes.push({ name: '/classifier/MatMul', opType: 'MatMul', input: ['f0', 'onnx::MatMul_3'], output: ['m0'] });
    nodes.push({ name: '/classifier/Add', opType: 'Add', input: ['fc.b', 'm0'], output: ['logits'] });
  } else {
    inits.push(tensor('fc.w', [3, 8], W.fc), tensor('fc.b', [3], W.fcB));
    nodes.push({ name: '/classifier/Gemm', opType: 'Gemm', input: ['f0', 'fc.w', 'fc.b'], output: ['logits'], attribute: [attrFloat('alpha', 1), attrFloat('beta', 1), attrInt('transB', 1)] });
  }
  const shape = [dim(o.batch ?? 1), dim(1), dim(o.height ?? 4), dim(4)];
  return {
    irVersion: 8,
    producerName: 'vggc-test',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'tiny',
      node: nodes,
      initializer: inits,
      input: [{ name: 'input', type: { tensorType: { elemType: FLOAT, shape: { dim: shape } } } }],
      output: [{ name: 'logits', type: { tensorType: { elemType: FLOAT, shape: { dim: [dim(o.batch ?? 1), dim(3)] } } } }],
    },
  };
}
