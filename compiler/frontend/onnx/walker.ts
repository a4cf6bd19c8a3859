/**
 * The walk over an ONNX VGG graph, from its input in topological order, as a state machine over the
 * one activation that flows through a VGG (the grammar is in import.ts). This file holds the state
 * and the loop; what each operator does to the state is in ops.ts, and the small constant subgraph
 * torch emits for the flatten shape is interpreted by shapes.ts.
 */
import type { onnx as OnnxTypes } from 'onnx-proto';
import { VggcError } from '../../errors.js';
import type { FloatTensor } from './tensors.js';
import { floatTensor, toNumber, typeName } from './tensors.js';
import { attributes, describeNode, sameShape, SUPPORTED_OPS, type Attributes, type NodeProto, type TensorProto } from './nodes.js';
import { OP_HANDLERS } from './ops.js';
import { visitConstant } from './shapes.js';

/** A weight: a float tensor of the model, or zeros (a Conv/Gemm without bias), possibly stored transposed. */
export interface WeightRef {
  /** Shape as torchvision's state_dict has it. */
  readonly shape: readonly number[];
  readonly tensor: FloatTensor | null;
  /** A Linear weight stored [in, out] (MatMul, Gemm transB=0) instead of torch's [out, in]. */
  readonly transposed: boolean;
  /** For messages and the mapping: the ONNX tensor name or `zeros`. */
  readonly origin: string;
}

/** A symbolic dimension in shape computations: a number or the (dynamic) batch size. */
export type Dim = number | 'batch';

export type Value =
  | { readonly kind: 'const'; readonly tensor: TensorProto; readonly name: string }
  | { readonly kind: 'ints'; readonly dims: readonly Dim[]; readonly scalar: boolean }
  | { readonly kind: 'act'; readonly shape: readonly number[] };

export interface ConvRecord {
  readonly weight: WeightRef;
  readonly bias: WeightRef;
  readonly bn: { readonly weight: WeightRef; readonly bias: WeightRef; readonly runningMean: WeightRef; readonly runningVar: WeightRef } | null;
}
export interface LinearRecord {
  readonly weight: WeightRef;
  bias: WeightRef | null;
  /** Followed by a Relu. */
  relu: boolean;
}

/** What the last layer node needs next: a ReLU after Conv/BN, an Add after MatMul. */
export type Pending = 'none' | 'conv' | 'bn' | 'matmul' | 'linear' | 'fcrelu';

/** The walk's state: the activation so far and the layers read. */
export class Walk {
  readonly values = new Map<string, Value>();
  /** Activations already read by a layer: a second reader means the graph branches. */
  readonly consumedBy = new Map<string, string>();
  /** Outputs that must not be read (BatchNormalization's training outputs, Dropout's mask, MaxPool's indices). */
  readonly unusable = new Map<string, string>();
  current = '';
  map = { c: 0, h: 0, w: 0 };
  phase: 'features' | 'pooled' | 'flat' = 'features';
  pending: Pending = 'none';
  pendingNode = '';
  batchNorm: boolean | null = null;
  readonly blocks: Array<[number, number, number]> = [];
  blockIn = 0;
  blockConvs = 0;
  blockFeatures = 0;
  avgPool: [number, number] | null = null;
  readonly convs: ConvRecord[] = [];
  readonly linears: LinearRecord[] = [];
  pendingConv: { weight: WeightRef; bias: WeightRef } | null = null;
  pendingBn: ConvRecord['bn'] = null;
  inputSize: [number, number] = [0, 0];
  staticBatch: number | null = null;

  constructor(
    readonly modelPath: string,
    readonly graph: OnnxTypes.IGraphProto,
    readonly opset: number,
  ) {}

  fail(msg: string): never {
    throw new VggcError(`${this.modelPath}: ${msg}`);
  }

  setPending(p: Pending, where: string): void {
    this.pending = p;
    this.pendingNode = where;
  }
}

/** One node as an operator handler sees it: its inputs, attributes, and the ways to read and produce. */
export interface NodeView {
  readonly op: string;
  readonly where: string;
  readonly attrs: Attributes;
  readonly inputs: readonly string[];
  fail(msg: string): never;
  /** Fails with "unexpected OP here: rule" unless `ok`. */
  expect(ok: boolean, rule: string): void;
  get(i: number): Value | undefined;
  /** The activation at input i (checked to be the one flowing through the network, read once): its shape. */
  actIn(i: number): readonly number[];
  produce(shape: readonly number[]): void;
  /** Sets output 0 to a non-activation value (the flatten shape's subgraph starts at Shape). */
  setValue(v: Value): void;
  constArg(i: number, role: string): TensorProto;
  weight(i: number, role: string, shape: readonly number[], transposed?: boolean): WeightRef;
  zeros(shape: readonly number[]): WeightRef;
  /** Marks outputs 1… unusable (a mask, indices, training statistics). */
  extraOutputs(why: string): void;
}

export interface WalkResult {
  readonly blocks: ReadonlyArray<readonly [number, number, number]>;
  readonly convs: readonly ConvRecord[];
  readonly linears: readonly LinearRecord[];
  readonly inputSize: readonly [number, number];
  readonly avgPool: readonly [number, number] | null;
  readonly batchNorm: boolean;
}

export function walkGraph(modelPath: string, graph: OnnxTypes.IGraphProto, opset: number): WalkResult {
  const w = new Walk(modelPath, graph, opset);
  for (const t of graph.initializer ?? []) w.values.set(t.name ?? '', { kind: 'const', tensor: t, name: t.name ?? '' });
  readInput(w);
  for (const { node, index } of topologicalOrder(w)) visit(w, node, index);

  const outputs = (graph.output ?? []).map((o) => o.name ?? '');
  if (outputs.length !== 1) w.fail(`the graph has ${outputs.length} outputs (${outputs.map((o) => JSON.stringify(o)).join(', ')}); a VGG has one, the logits`);
  if (outputs[0] !== w.current) w.fail(`the graph output ${JSON.stringify(outputs[0])} is not the result of the last layer (${JSON.stringify(w.current)})`);
  if (w.phase !== 'flat' || w.linears.length === 0) {
    w.fail(w.phase === 'features' && w.blocks.length === 0 ? 'the graph has no Conv → Relu → MaxPool block; not a VGG' : 'the graph ends before its classifier: a VGG ends with Flatten and at least one Gemm (Linear)');
  }
  if (w.pending === 'matmul') w.fail(`${w.pendingNode} is a MatMul without the Add of its bias at the end of the graph`);
  if (w.pending === 'fcrelu') w.fail(`${w.pendingNode} is a Relu after the last Linear layer; a VGG classifier ends with a Linear layer`);
  return { blocks: w.blocks, convs: w.convs, linears: w.linears, inputSize: w.inputSize, avgPool: w.avgPool, batchNorm: w.batchNorm ?? false };
}

function readInput(w: Walk): void {
  const inits = new Set((w.graph.initializer ?? []).map((t) => t.name ?? ''));
  const inputs = (w.graph.input ?? []).filter((i) => !inits.has(i.name ?? ''));
  if (inputs.length !== 1) w.fail(`the graph has ${inputs.length} inputs (${inputs.map((i) => JSON.stringify(i.name)).join(', ')}); a VGG has one, the image batch N×C×H×W`);
  const input = inputs[0];
  const name = JSON.stringify(input.name ?? '');
  const tt = input.type?.tensorType;
  if (!tt) return w.fail(`graph input ${name} is not a tensor`);
  if ((tt.elemType ?? 0) !== 1) w.fail(`graph input ${name} has element type ${typeName(tt.elemType ?? 0)}; vggc models take FLOAT input`);
  const dims = tt.shape?.dim ?? [];
  if (dims.length !== 4) w.fail(`graph input ${name} has ${tt.shape ? `rank ${dims.length}` : 'no shape'}; expected N×C×H×W (rank 4) with static C, H and W`);
  const labels = ['batch', 'channels', 'height', 'width'];
  const sizes = dims.map((d, i) => {
    const v = toNumber(d.dimValue);
    if (v >= 1 && !d.dimParam) return v;
    if (i === 0) return null; // a dynamic batch is fine: vggc runs any batch size
    const what = d.dimParam ? `dynamic ("${d.dimParam}")` : 'unknown';
    return w.fail(`graph input ${name} has a ${what} ${labels[i]}; vggc compiles for one input size: export with a fixed size (torch.onnx.export with an example input of that size, dynamic_axes only for dim 0)`);
  });
  w.staticBatch = sizes[0];
  w.map = { c: sizes[1]!, h: sizes[2]!, w: sizes[3]! };
  w.inputSize = [w.map.h, w.map.w];
  w.blockIn = w.map.c;
  w.current = input.name ?? '';
  w.values.set(w.current, { kind: 'act', shape: [w.map.c, w.map.h, w.map.w] });
}

/** Nodes in dependency order (ONNX requires it; checked here rather than assumed). */
function topologicalOrder(w: Walk): Array<{ node: NodeProto; index: number }> {
  const nodes = w.graph.node ?? [];
  const known = new Set(w.values.keys());
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => (n.output ?? []).forEach((o) => o && producer.set(o, i)));
  const order: Array<{ node: NodeProto; index: number }> = [];
  const state = new Uint8Array(nodes.length); // 0 new, 1 visiting, 2 done
  const visit = (i: number): void => {
    if (state[i] === 2) return;
    if (state[i] === 1) w.fail(`${describeNode(nodes[i], i)} is part of a cycle`);
    state[i] = 1;
    for (const inp of nodes[i].input ?? []) {
      if (!inp || known.has(inp)) continue;
      const p = producer.get(inp);
      if (p === undefined) return w.fail(`${describeNode(nodes[i], i)} reads ${JSON.stringify(inp)}, which no node, initializer or graph input provides`);
      visit(p);
    }
    state[i] = 2;
    order.push({ node: nodes[i], index: i });
  };
  // Iterative over roots, recursive along dependencies (VGG graphs are shallow in that sense: each
  // layer depends on the previous one, so the recursion depth is the number of layers, ~60 at most).
  for (let i = 0; i < nodes.length; i++) visit(i);
  return order;
}

function visit(w: Walk, node: NodeProto, index: number): void {
  const op = node.opType ?? '';
  const where = describeNode(node, index);
  const fail = (msg: string): never => w.fail(`${where}: ${msg}`);
  if (node.domain && node.domain !== 'ai.onnx') fail(`operator domain ${JSON.stringify(node.domain)} is not supported; vggc imports only standard ONNX ops (${SUPPORTED_OPS})`);
  const inputs = node.input ?? [];
  for (const i of inputs) {
    const why = i ? w.unusable.get(i) : undefined;
    if (why) fail(`reads ${JSON.stringify(i)}, ${why}, which vggc does not support`);
  }
  const get = (i: number): Value | undefined => (inputs[i] ? w.values.get(inputs[i]) : undefined);
  const out0 = (node.output ?? [])[0] ?? '';
  if (!inputs.some((i) => i && w.values.get(i)?.kind === 'act')) {
    visitConstant(w, node, op, get, out0, fail);
    return;
  }
  const handler = OP_HANDLERS[op];
  if (!handler) fail(`operator ${op} is not supported; vggc imports VGG graphs made of ${SUPPORTED_OPS}`);
  handler(w, nodeView(w, node, op, where, inputs, get, out0, fail));
}

function nodeView(w: Walk, node: NodeProto, op: string, where: string, inputs: readonly string[], get: (i: number) => Value | undefined, out0: string, fail: (m: string) => never): NodeView {
  const constArg = (i: number, role: string): TensorProto => {
    const v = get(i);
    if (!v || v.kind !== 'const') return fail(`its ${role} (input ${i}, ${JSON.stringify(inputs[i] ?? '')}) must be an initializer or Constant`);
    return v.tensor;
  };
  return {
    op, where, inputs, fail, get, constArg,
    attrs: attributes(node),
    expect(ok, rule) {
      if (ok) return;
      const after = w.pendingNode ? ` (the previous layer node is ${w.pendingNode})` : '';
      fail(`unexpected ${op} here: ${rule}${after}`);
    },
    actIn(i) {
      const v = get(i);
      if (!v || v.kind !== 'act') return fail(`input ${i} (${JSON.stringify(inputs[i] ?? '')}) is not the activation flowing through the network`);
      if (inputs[i] !== w.current) fail(`reads ${JSON.stringify(inputs[i])}, not the latest activation ${JSON.stringify(w.current)}: the graph branches (a skip connection?); vggc imports only a plain chain of layers`);
      const previous = w.consumedBy.get(inputs[i]);
      if (previous) fail(`reads ${JSON.stringify(inputs[i])}, which ${previous} already read: the graph branches; vggc imports only a plain chain of layers`);
      w.consumedBy.set(inputs[i], where);
      return v.shape;
    },
    produce(shape) {
      w.current = out0;
      w.values.set(out0, { kind: 'act', shape });
    },
    setValue: (v) => void w.values.set(out0, v),
    weight(i, role, shape, transposed = false) {
      const t = constArg(i, role);
      const ft = floatTensor(t, w.modelPath, `tensor ${JSON.stringify(t.name || inputs[i])} (${role} of ${where})`);
      const stored = transposed ? [shape[1], shape[0]] : shape;
      // A bias may be stored [1, out] (Gemm's C broadcast, Add's operand).
      const ok = sameShape(ft.dims, stored) || (shape.length === 1 && sameShape(ft.dims, [1, shape[0]]));
      if (!ok) fail(`its ${role} ${JSON.stringify(t.name || inputs[i])} has shape [${ft.dims.join(', ')}], expected [${stored.join(', ')}]`);
      return { shape, tensor: ft, transposed, origin: t.name || inputs[i] };
    },
    zeros: (shape) => ({ shape, tensor: null, transposed: false, origin: 'zeros (no bias in the ONNX graph)' }),
    extraOutputs: (why) => (node.output ?? []).slice(1).forEach((o) => o && w.unusable.set(o, why)),
  };
}
