/**
 * ONNX import: a torchvision-style VGG exported with torch.onnx.export (opsets 7–17, with or without
 * BatchNorm, weights inline or in external data files) → the VggConfig it implements plus a
 * WeightSource over its initializers.
 *
 * The graph is walked from its input in topological order, as a state machine over the one
 * activation that flows through a VGG:
 *
 *   per block:   (Conv 3×3/pad 1 [BatchNormalization] Relu)+ MaxPool 2×2
 *   then:        [AveragePool k×k/stride k | GlobalAveragePool]  Flatten | Reshape
 *   classifier:  (Gemm | MatMul+Add) Relu  …  (Gemm | MatMul+Add)
 *   anywhere:    Dropout, Identity (no-ops at inference)
 *
 * plus the small constant/shape subgraph torch emits for `x.view(x.shape[0], -1)` (Shape, Gather,
 * Unsqueeze, Concat, Constant). Weights are matched to torchvision's state_dict keys by position in
 * this structure, never by initializer name (torch names them `features.0.weight` or `onnx::Conv_33`).
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
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { VggcError } from '../errors.js';
import type { Block, VggConfig } from '../config/config.js';
import { parseConfig } from '../config/parse.js';
import { BATCHNORM_EPS, type ParamTensor } from '../graph/graph.js';
import type { WeightSource } from '../weights/source.js';
import { unravel } from '../weights/safetensors.js';
import { FileCache, floatTensor, readElements, toNumber, typeName, type FloatTensor } from './tensors.js';

const { onnx } = onnxProto;

type NodeProto = OnnxTypes.INodeProto;
type TensorProto = OnnxTypes.ITensorProto;
type AttributeProto = OnnxTypes.IAttributeProto;

export interface OnnxWeightOptions {
  /** Load NaN/±Inf values instead of rejecting them. */
  readonly allowNonfinite?: boolean;
}

export interface OnnxImport {
  readonly config: VggConfig;
  /** Opens the model's weights for the parameter list of buildGraph(config) (torchvision keys). */
  readonly source: (params: readonly ParamTensor[], opts?: OnnxWeightOptions) => WeightSource;
  /** How each torchvision key maps to the ONNX graph, e.g. `features.0.weight ← onnx::Conv_33`. */
  readonly mapping: ReadonlyMap<string, string>;
}

/** A weight: a float tensor of the model, or zeros (a Conv/Gemm without bias), possibly stored transposed. */
interface WeightRef {
  /** Shape as torchvision's state_dict has it. */
  readonly shape: readonly number[];
  readonly tensor: FloatTensor | null;
  /** A Linear weight stored [in, out] (MatMul, Gemm transB=0) instead of torch's [out, in]. */
  readonly transposed: boolean;
  /** For messages and the mapping: the ONNX tensor name or `zeros`. */
  readonly origin: string;
}

/** A symbolic dimension in shape computations: a number or the (dynamic) batch size. */
type Dim = number | 'batch';

type Value =
  | { readonly kind: 'const'; readonly tensor: TensorProto; readonly name: string }
  | { readonly kind: 'ints'; readonly dims: readonly Dim[]; readonly scalar: boolean }
  | { readonly kind: 'act'; readonly shape: readonly number[] };

const SUPPORTED_OPS = 'Conv, BatchNormalization, Relu, MaxPool, AveragePool, GlobalAveragePool, Flatten, Reshape, Gemm, MatMul, Add, Dropout, Identity (and Shape, Gather, Unsqueeze, Concat, Constant for the flatten shape)';

export function importOnnx(modelPath: string): OnnxImport {
  if (os.endianness() !== 'LE') throw new Error('vggc needs a little-endian host');
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
  if (!graph || (graph.node ?? []).length === 0) fail('not an ONNX model: it has no graph (or an empty one)');
  const opset = (model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  const opsetVersion = opset ? toNumber(opset.version) : 0;
  if (opsetVersion < 7) fail(`the model uses ONNX opset ${opsetVersion || '(none declared)'}; vggc reads opsets 7 and later (torch.onnx.export opset_version=11…17)`);

  const walker = new Walker(modelPath, graph!, opsetVersion);
  const derived = walker.run();
  const name = path.basename(modelPath).replace(/\.onnx$/i, '') || 'model';
  // The project's own validation (positive sizes, chained blocks, the input surviving every pool).
  const config = parseConfig(JSON.stringify({ name: name.slice(0, 200), ...derived.config }), `${modelPath} (derived config)`);
  const weights = derived.weights(config.batchNorm);
  const mapping = new Map([...weights].map(([k, w]) => [k, w.origin]));
  return { config, source: (params, opts = {}) => openWeights(modelPath, weights, params, opts), mapping };
}

interface ConvRecord {
  readonly weight: WeightRef;
  readonly bias: WeightRef;
  readonly bn: { readonly weight: WeightRef; readonly bias: WeightRef; readonly runningMean: WeightRef; readonly runningVar: WeightRef } | null;
}
interface LinearRecord {
  readonly weight: WeightRef;
  bias: WeightRef | null;
}

class Walker {
  private readonly values = new Map<string, Value>();
  /** Activations already read by a layer: a second reader means the graph branches. */
  private readonly consumedBy = new Map<string, string>();
  /** Outputs that must not be read (BatchNormalization's training outputs, Dropout's mask, MaxPool's indices). */
  private readonly unusable = new Map<string, string>();
  private current = '';
  private map = { c: 0, h: 0, w: 0 };
  private phase: 'features' | 'pooled' | 'flat' = 'features';
  /** What the last layer node needs next: a ReLU after Conv/BN, an Add after MatMul. */
  private pending: 'none' | 'conv' | 'bn' | 'matmul' | 'linear' | 'fcrelu' = 'none';
  private pendingNode = '';
  private batchNorm: boolean | null = null;
  private readonly blocks: Block[] = [];
  private blockIn = 0;
  private blockConvs = 0;
  private blockFeatures = 0;
  private avgPool: [number, number] | null = null;
  private readonly convs: ConvRecord[] = [];
  private readonly linears: LinearRecord[] = [];
  private pendingConv: { weight: WeightRef; bias: WeightRef } | null = null;
  private pendingBn: ConvRecord['bn'] = null;
  private inputSize: [number, number] = [0, 0];
  private staticBatch: number | null = null;

  constructor(
    private readonly modelPath: string,
    private readonly graph: OnnxTypes.IGraphProto,
    private readonly opset: number,
  ) {}

  private fail(msg: string): never {
    throw new VggcError(`${this.modelPath}: ${msg}`);
  }

  run(): { config: Record<string, unknown>; weights: (bn: boolean) => Map<string, WeightRef> } {
    const g = this.graph;
    for (const t of g.initializer ?? []) this.values.set(t.name ?? '', { kind: 'const', tensor: t, name: t.name ?? '' });
    this.readInput();
    for (const { node, index } of this.topologicalOrder()) this.visit(node, index);

    const outputs = (g.output ?? []).map((o) => o.name ?? '');
    if (outputs.length !== 1) this.fail(`the graph has ${outputs.length} outputs (${outputs.map((o) => JSON.stringify(o)).join(', ')}); a VGG has one, the logits`);
    if (outputs[0] !== this.current) this.fail(`the graph output ${JSON.stringify(outputs[0])} is not the result of the last layer (${JSON.stringify(this.current)})`);
    if (this.phase !== 'flat' || this.linears.length === 0) {
      this.fail(this.phase === 'features' && this.blocks.length === 0 ? 'the graph has no Conv → Relu → MaxPool block; not a VGG' : 'the graph ends before its classifier: a VGG ends with Flatten and at least one Gemm (Linear)');
    }
    if (this.pending === 'matmul') this.fail(`${this.pendingNode} is a MatMul without the Add of its bias at the end of the graph`);
    if (this.pending === 'fcrelu') this.fail(`${this.pendingNode} is a Relu after the last Linear layer; a VGG classifier ends with a Linear layer`);

    const widths = this.linears.map((l) => l.weight.shape[0]);
    const config = {
      blocks: this.blocks,
      inputSize: this.inputSize,
      batchNorm: this.batchNorm ?? false,
      avgPool: this.avgPool,
      classifier: widths.slice(0, -1),
      numClasses: widths[widths.length - 1],
    };
    return { config, weights: (bn) => this.keyedWeights(bn) };
  }

  /** torchvision's state_dict keys, laid out as graph.ts (make_layers) does. */
  private keyedWeights(bn: boolean): Map<string, WeightRef> {
    const out = new Map<string, WeightRef>();
    let index = 0;
    let conv = 0;
    for (const [, numConv] of this.blocks) {
      for (let j = 0; j < numConv; j++, conv++) {
        const r = this.convs[conv];
        out.set(`features.${index}.weight`, r.weight);
        out.set(`features.${index}.bias`, r.bias);
        if (bn && r.bn) {
          out.set(`features.${index + 1}.weight`, r.bn.weight);
          out.set(`features.${index + 1}.bias`, r.bn.bias);
          out.set(`features.${index + 1}.running_mean`, r.bn.runningMean);
          out.set(`features.${index + 1}.running_var`, r.bn.runningVar);
        }
        index += bn ? 3 : 2;
      }
      index += 1;
    }
    this.linears.forEach((l, k) => {
      out.set(`classifier.${3 * k}.weight`, l.weight);
      out.set(`classifier.${3 * k}.bias`, l.bias!);
    });
    return out;
  }

  private readInput(): void {
    const inits = new Set((this.graph.initializer ?? []).map((t) => t.name ?? ''));
    const inputs = (this.graph.input ?? []).filter((i) => !inits.has(i.name ?? ''));
    if (inputs.length !== 1) this.fail(`the graph has ${inputs.length} inputs (${inputs.map((i) => JSON.stringify(i.name)).join(', ')}); a VGG has one, the image batch N×C×H×W`);
    const input = inputs[0];
    const name = JSON.stringify(input.name ?? '');
    const tt = input.type?.tensorType;
    if (!tt) this.fail(`graph input ${name} is not a tensor`);
    if ((tt!.elemType ?? 0) !== 1) this.fail(`graph input ${name} has element type ${typeName(tt!.elemType ?? 0)}; vggc models take FLOAT input`);
    const dims = tt!.shape?.dim ?? [];
    if (dims.length !== 4) this.fail(`graph input ${name} has ${tt!.shape ? `rank ${dims.length}` : 'no shape'}; expected N×C×H×W (rank 4) with static C, H and W`);
    const labels = ['batch', 'channels', 'height', 'width'];
    const sizes = dims.map((d, i) => {
      const v = toNumber(d.dimValue);
      if (v >= 1 && !d.dimParam) return v;
      if (i === 0) return null; // a dynamic batch is fine: vggc runs any batch size
      const what = d.dimParam ? `dynamic ("${d.dimParam}")` : 'unknown';
      return this.fail(`graph input ${name} has a ${what} ${labels[i]}; vggc compiles for one input size: export with a fixed size (torch.onnx.export with an example input of that size, dynamic_axes only for dim 0)`);
    });
    this.staticBatch = sizes[0];
    this.map = { c: sizes[1]!, h: sizes[2]!, w: sizes[3]! };
    this.inputSize = [this.map.h, this.map.w];
    this.blockIn = this.map.c;
    this.current = input.name ?? '';
    this.values.set(this.current, { kind: 'act', shape: [this.map.c, this.map.h, this.map.w] });
  }

  /** Nodes in dependency order (ONNX requires it; checked here rather than assumed). */
  private topologicalOrder(): Array<{ node: NodeProto; index: number }> {
    const nodes = this.graph.node ?? [];
    const known = new Set(this.values.keys());
    const producer = new Map<string, number>();
    nodes.forEach((n, i) => (n.output ?? []).forEach((o) => o && producer.set(o, i)));
    const order: Array<{ node: NodeProto; index: number }> = [];
    const state = new Uint8Array(nodes.length); // 0 new, 1 visiting, 2 done
    const visit = (i: number): void => {
      if (state[i] === 2) return;
      if (state[i] === 1) this.fail(`${describeNode(nodes[i], i)} is part of a cycle`);
      state[i] = 1;
      for (const inp of nodes[i].input ?? []) {
        if (!inp || known.has(inp)) continue;
        const p = producer.get(inp);
        if (p === undefined) this.fail(`${describeNode(nodes[i], i)} reads ${JSON.stringify(inp)}, which no node, initializer or graph input provides`);
        visit(p!);
      }
      state[i] = 2;
      order.push({ node: nodes[i], index: i });
    };
    // Iterative over roots, recursive along dependencies (VGG graphs are shallow in that sense: each
    // layer depends on the previous one, so the recursion depth is the number of layers, ~60 at most).
    for (let i = 0; i < nodes.length; i++) visit(i);
    return order;
  }

  private visit(node: NodeProto, index: number): void {
    const op = node.opType ?? '';
    const where = describeNode(node, index);
    const fail = (msg: string): never => this.fail(`${where}: ${msg}`);
    if (node.domain && node.domain !== 'ai.onnx') fail(`operator domain ${JSON.stringify(node.domain)} is not supported; vggc imports only standard ONNX ops (${SUPPORTED_OPS})`);
    const inputs = node.input ?? [];
    for (const i of inputs) {
      const why = i ? this.unusable.get(i) : undefined;
      if (why) fail(`reads ${JSON.stringify(i)}, ${why}, which vggc does not support`);
    }
    const get = (i: number): Value | undefined => (inputs[i] ? this.values.get(inputs[i]) : undefined);
    const anyAct = inputs.some((i) => i && this.values.get(i)?.kind === 'act');
    const out0 = (node.output ?? [])[0] ?? '';
    const extraOutputs = (why: string) => (node.output ?? []).slice(1).forEach((o) => o && this.unusable.set(o, why));

    if (!anyAct) {
      this.visitConstant(node, op, get, out0, fail);
      return;
    }
    const actIn = (i: number): readonly number[] => {
      const v = get(i);
      if (!v || v.kind !== 'act') return fail(`input ${i} (${JSON.stringify(inputs[i] ?? '')}) is not the activation flowing through the network`);
      if (inputs[i] !== this.current) fail(`reads ${JSON.stringify(inputs[i])}, not the latest activation ${JSON.stringify(this.current)}: the graph branches (a skip connection?); vggc imports only a plain chain of layers`);
      const previous = this.consumedBy.get(inputs[i]);
      if (previous) fail(`reads ${JSON.stringify(inputs[i])}, which ${previous} already read: the graph branches; vggc imports only a plain chain of layers`);
      this.consumedBy.set(inputs[i], where);
      return v.shape;
    };
    const produce = (shape: readonly number[]) => {
      this.current = out0;
      this.values.set(out0, { kind: 'act', shape });
    };
    const attrs = attributes(node);
    const constArg = (i: number, role: string): TensorProto => {
      const v = get(i);
      if (!v || v.kind !== 'const') return fail(`its ${role} (input ${i}, ${JSON.stringify(inputs[i] ?? '')}) must be an initializer or Constant`);
      return v.tensor;
    };
    const weight = (i: number, role: string, shape: readonly number[], transposed = false): WeightRef => {
      const t = constArg(i, role);
      const ft = floatTensor(t, this.modelPath, `tensor ${JSON.stringify(t.name || inputs[i])} (${role} of ${where})`);
      const stored = transposed ? [shape[1], shape[0]] : shape;
      // A bias may be stored [1, out] (Gemm's C broadcast, Add's operand).
      const ok = sameShape(ft.dims, stored) || (shape.length === 1 && sameShape(ft.dims, [1, shape[0]]));
      if (!ok) fail(`its ${role} ${JSON.stringify(t.name || inputs[i])} has shape [${ft.dims.join(', ')}], expected [${stored.join(', ')}]`);
      return { shape, tensor: ft, transposed, origin: t.name || inputs[i] };
    };
    const zeros = (shape: readonly number[]): WeightRef => ({ shape, tensor: null, transposed: false, origin: 'zeros (no bias in the ONNX graph)' });

    switch (op) {
      case 'Identity':
      case 'Dropout': {
        const shape = actIn(0);
        if (op === 'Dropout') {
          // Opset 12+: training_mode is input 2; it must be absent or a constant false.
          const tm = get(2);
          if (tm && (tm.kind !== 'const' || intValues(tm.tensor, this.modelPath).some((v) => v !== 0))) fail('has training_mode that is not a constant false; export the model in eval mode');
          if (this.opset < 7 && (attr(attrs, 'is_test')?.i ?? 1) === 0) fail('is in training mode (is_test 0)');
          extraOutputs("Dropout's mask");
        }
        produce(shape);
        return;
      }
      case 'Conv': {
        this.expect(op, fail, this.phase === 'features' && this.pending === 'none', 'a Conv must start a layer in the convolutional part (after the input, a Relu or a MaxPool)');
        const shape = actIn(0);
        const wt = constArg(1, 'weight');
        const dims = (wt.dims ?? []).map(toNumber);
        const [o, c, kh, kw] = dims;
        if (dims.length !== 4 || kh !== 3 || kw !== 3) fail(`its weight has shape [${dims.join(', ')}]; vggc supports 3×3 convolutions only ([out, in, 3, 3])`);
        if (c !== shape[0]) fail(`its weight has shape [${dims.join(', ')}] for ${c} input channels, but its input has ${shape[0]} channels (grouped convolution?)`);
        const ks = ints(attrs, 'kernel_shape');
        if (ks && !sameShape(ks, [3, 3])) fail(`kernel_shape [${ks.join(', ')}]; vggc supports 3×3 only`);
        const strides = ints(attrs, 'strides') ?? [1, 1];
        if (!sameShape(strides, [1, 1])) fail(`strides [${strides.join(', ')}]; VGG convolutions have stride 1`);
        const dil = ints(attrs, 'dilations') ?? [1, 1];
        if (!sameShape(dil, [1, 1])) fail(`dilations [${dil.join(', ')}]; VGG convolutions are not dilated`);
        const group = toNumber(attr(attrs, 'group')?.i ?? 1);
        if (group !== 1) fail(`group ${group}; vggc supports ordinary (group 1) convolutions only`);
        const autoPad = str(attrs, 'auto_pad') ?? 'NOTSET';
        const pads = ints(attrs, 'pads') ?? [0, 0, 0, 0];
        const padOk = autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER' || ((autoPad === 'NOTSET' || autoPad === '') && sameShape(pads, [1, 1, 1, 1]));
        if (!padOk) fail(`${autoPad !== 'NOTSET' && autoPad !== '' ? `auto_pad ${autoPad}` : `pads [${pads.join(', ')}]`}; VGG convolutions pad 1 on every side`);
        if (this.blockConvs > 0 && o !== this.blockFeatures) {
          fail(`outputs ${o} channels but the previous convolution of this block outputs ${this.blockFeatures}; in a vggc block every convolution has the same width (each block is [in_channels, num_conv_layers, num_features])`);
        }
        this.pendingConv = { weight: weight(1, 'weight', [o, c, 3, 3]), bias: get(2) ? weight(2, 'bias', [o]) : zeros([o]) };
        this.blockFeatures = o;
        this.setPending('conv', where);
        produce([o, shape[1], shape[2]]);
        return;
      }
      case 'BatchNormalization': {
        this.expect(op, fail, this.pending === 'conv', 'BatchNormalization must follow a Conv directly');
        if (this.batchNorm === false) fail('the earlier convolutions have no BatchNormalization; vggc needs all or none of them normalised');
        const shape = actIn(0);
        const eps = attr(attrs, 'epsilon')?.f ?? BATCHNORM_EPS;
        if (Math.fround(eps) !== Math.fround(BATCHNORM_EPS)) fail(`epsilon is ${eps}; vggc folds BatchNorm with torch's default ε = 1e-5 only`);
        const tm = toNumber(attr(attrs, 'training_mode')?.i ?? 0);
        if (tm !== 0) fail('has training_mode 1; export the model in eval mode (model.eval())');
        if (this.opset < 7 && (attr(attrs, 'is_test')?.i ?? 0) === 0) fail('is in training mode (is_test 0)');
        extraOutputs("BatchNormalization's training-mode statistics");
        const c = shape[0];
        this.pendingBn = { weight: weight(1, 'scale', [c]), bias: weight(2, 'B', [c]), runningMean: weight(3, 'mean', [c]), runningVar: weight(4, 'var', [c]) };
        this.setPending('bn', where);
        produce(shape);
        return;
      }
      case 'Relu': {
        const shape = actIn(0);
        if (this.pending === 'conv' || this.pending === 'bn') {
          const hasBn = this.pending === 'bn';
          if (this.batchNorm !== null && this.batchNorm !== hasBn) fail(`follows a Conv ${hasBn ? 'with' : 'without'} BatchNormalization, but the earlier convolutions are ${this.batchNorm ? 'normalised' : 'not normalised'}; vggc needs all or none of them normalised`);
          this.batchNorm = hasBn;
          this.convs.push({ ...this.pendingConv!, bn: hasBn ? this.pendingBn : null });
          this.pendingConv = null;
          this.pendingBn = null;
          this.blockConvs++;
          this.setPending('none', where);
        } else if (this.pending === 'linear') {
          this.setPending('fcrelu', where);
        } else {
          fail(this.pending === 'matmul' ? 'follows a MatMul that has no bias Add' : 'must follow a Conv, a BatchNormalization or a Gemm (Linear); two activations in a row are not a VGG');
        }
        produce(shape);
        return;
      }
      case 'MaxPool': {
        this.expect(op, fail, this.phase === 'features' && this.pending === 'none' && this.blockConvs > 0, 'a MaxPool must end a block of Conv → Relu layers');
        const shape = actIn(0);
        const ks = ints(attrs, 'kernel_shape');
        const strides = ints(attrs, 'strides') ?? [1, 1];
        const pads = ints(attrs, 'pads') ?? [0, 0, 0, 0];
        const dil = ints(attrs, 'dilations') ?? [1, 1];
        const ceil = toNumber(attr(attrs, 'ceil_mode')?.i ?? 0);
        const autoPad = str(attrs, 'auto_pad') ?? 'NOTSET';
        const ok = ks && sameShape(ks, [2, 2]) && sameShape(strides, [2, 2]) && pads.every((p) => p === 0) && sameShape(dil, [1, 1]) && ceil === 0 && (autoPad === 'NOTSET' || autoPad === '' || autoPad === 'VALID');
        if (!ok) fail(`kernel_shape [${ks?.join(', ') ?? ''}] strides [${strides.join(', ')}] pads [${pads.join(', ')}] ceil_mode ${ceil}${autoPad !== 'NOTSET' ? ` auto_pad ${autoPad}` : ''}; VGG blocks end with a 2×2 stride-2 max-pool without padding or ceil_mode`);
        extraOutputs("MaxPool's indices");
        const [c, h, w] = shape;
        if (h < 2 || w < 2) fail(`its input is ${h}×${w}, too small for a 2×2 max-pool`);
        this.blocks.push([this.blockIn, this.blockConvs, c]);
        this.blockIn = c;
        this.blockConvs = 0;
        this.map = { c, h: Math.floor(h / 2), w: Math.floor(w / 2) };
        produce([c, this.map.h, this.map.w]);
        return;
      }
      case 'AveragePool':
      case 'GlobalAveragePool': {
        this.expect(op, fail, this.phase === 'features' && this.pending === 'none' && this.blockConvs === 0 && this.blocks.length > 0, 'the average pool must follow the last block\'s MaxPool');
        const [c, h, w] = actIn(0);
        if (op === 'GlobalAveragePool') {
          this.avgPool = [1, 1];
        } else {
          const ks = ints(attrs, 'kernel_shape') ?? [];
          const strides = ints(attrs, 'strides') ?? [1, 1];
          const pads = ints(attrs, 'pads') ?? [0, 0, 0, 0];
          const ceil = toNumber(attr(attrs, 'ceil_mode')?.i ?? 0);
          const autoPad = str(attrs, 'auto_pad') ?? 'NOTSET';
          const dil = ints(attrs, 'dilations') ?? [1, 1];
          // torch exports AdaptiveAvgPool2d to (h/k, w/k') as AveragePool kernel = stride = (k, k').
          const mappable = ks.length === 2 && sameShape(strides, ks) && pads.every((p) => p === 0) && ceil === 0 && (autoPad === 'NOTSET' || autoPad === '' || autoPad === 'VALID') && sameShape(dil, [1, 1]) && h % ks[0] === 0 && w % ks[1] === 0;
          if (!mappable) {
            fail(`kernel_shape [${ks.join(', ')}] strides [${strides.join(', ')}] pads [${pads.join(', ')}] ceil_mode ${ceil} on a ${h}×${w} map is not an adaptive average pool (vggc's avgPool needs kernel = stride dividing the map, as torch exports AdaptiveAvgPool2d)`);
          }
          this.avgPool = [h / ks[0], w / ks[1]];
        }
        this.map = { c, h: this.avgPool[0], w: this.avgPool[1] };
        this.phase = 'pooled';
        produce([c, this.map.h, this.map.w]);
        return;
      }
      case 'Flatten':
      case 'Reshape': {
        this.expect(op, fail, (this.phase === 'pooled' || (this.phase === 'features' && this.blockConvs === 0 && this.blocks.length > 0)) && this.pending === 'none', `${op} must follow the last block's MaxPool or the average pool`);
        const shape = actIn(0);
        const features = shape.reduce((a, b) => a * b, 1);
        if (op === 'Flatten') {
          const axis = toNumber(attr(attrs, 'axis')?.i ?? 1);
          if (axis !== 1 && axis !== -3) fail(`axis ${axis}; vggc flattens N×C×H×W to N×(C·H·W) (axis 1)`);
        } else {
          const target = this.shapeValue(get(1), fail);
          const allowZero = toNumber(attr(attrs, 'allowzero')?.i ?? 0);
          const isBatch = (d: Dim, allowInfer: boolean) => d === 'batch' || (d === 0 && allowZero === 0) || (d === -1 && allowInfer) || (this.staticBatch !== null && d === this.staticBatch);
          const ok = target.length === 2 && ((isBatch(target[0], false) && (target[1] === features || target[1] === -1)) || (isBatch(target[0], true) && target[1] === features));
          if (!ok) fail(`reshapes the ${shape.join('×')} map to [${target.join(', ')}]; vggc supports only flattening to [batch, ${features}]`);
        }
        this.phase = 'flat';
        produce([features]);
        return;
      }
      case 'Gemm':
      case 'MatMul': {
        this.expect(op, fail, this.phase === 'flat' && (this.pending === 'none' || this.pending === 'fcrelu'), `a ${op} (Linear layer) must follow Flatten or the previous Linear layer's Relu`);
        const shape = actIn(0);
        if (shape.length !== 1) fail(`its input is not flattened (${shape.join('×')})`);
        const wt = constArg(1, 'weight');
        const dims = (wt.dims ?? []).map(toNumber);
        let transposed = true;
        if (op === 'Gemm') {
          const alpha = attr(attrs, 'alpha')?.f ?? 1;
          const beta = attr(attrs, 'beta')?.f ?? 1;
          const transA = toNumber(attr(attrs, 'transA')?.i ?? 0);
          transposed = toNumber(attr(attrs, 'transB')?.i ?? 0) === 0;
          if (alpha !== 1 || beta !== 1 || transA !== 0) fail(`alpha ${alpha} beta ${beta} transA ${transA}; vggc imports Gemm as a Linear layer (alpha 1, beta 1, transA 0)`);
        }
        if (dims.length !== 2) fail(`its weight has shape [${dims.join(', ')}]; expected a matrix`);
        const out = transposed ? dims[1] : dims[0];
        const inF = transposed ? dims[0] : dims[1];
        if (inF !== shape[0]) fail(`its weight has shape [${dims.join(', ')}] (${inF} inputs) but its input has ${shape[0]} features`);
        const rec: LinearRecord = { weight: weight(1, 'weight', [out, inF], transposed), bias: null };
        if (op === 'Gemm') rec.bias = get(2) ? weight(2, 'bias', [out]) : zeros([out]);
        this.linears.push(rec);
        this.setPending(op === 'Gemm' ? 'linear' : 'matmul', where);
        produce([out]);
        return;
      }
      case 'Add': {
        this.expect(op, fail, this.pending === 'matmul', 'an Add is supported only as the bias of a MatMul (Linear layer)');
        const actSide = get(0)?.kind === 'act' ? 0 : 1;
        if (get(1 - actSide)?.kind === 'act') fail('adds two activations (a skip connection?); vggc imports only a plain chain of layers');
        const shape = actIn(actSide);
        const rec = this.linears[this.linears.length - 1];
        rec.bias = weight(1 - actSide, 'bias', [shape[0]]);
        this.setPending('linear', where);
        produce(shape);
        return;
      }
      case 'Shape': {
        const v = get(0) as { kind: 'act'; shape: readonly number[] };
        let dims: Dim[] = [this.staticBatch ?? 'batch', ...v.shape];
        const start = attr(attrs, 'start');
        const end = attr(attrs, 'end');
        if (start || end) dims = sliceDims(dims, toNumber(start?.i ?? 0), end ? toNumber(end.i) : dims.length);
        this.values.set(out0, { kind: 'ints', dims, scalar: false });
        return;
      }
      default:
        fail(`operator ${op} is not supported; vggc imports VGG graphs made of ${SUPPORTED_OPS}`);
    }
  }

  private setPending(p: Walker['pending'], where: string): void {
    this.pending = p;
    this.pendingNode = where;
  }

  private expect(op: string, fail: (m: string) => never, ok: boolean, rule: string): void {
    if (ok) return;
    const after = this.pendingNode ? ` (the previous layer node is ${this.pendingNode})` : '';
    fail(`unexpected ${op} here: ${rule}${after}`);
  }

  /** Nodes that only compute constants or the flatten shape. */
  private visitConstant(node: NodeProto, op: string, get: (i: number) => Value | undefined, out0: string, fail: (m: string) => never): void {
    const attrs = attributes(node);
    const set = (v: Value) => this.values.set(out0, v);
    const intsOf = (i: number): { dims: Dim[]; scalar: boolean } => {
      const v = get(i);
      if (!v) return fail(`input ${i} is missing`);
      if (v.kind === 'ints') return { dims: [...v.dims], scalar: v.scalar };
      if (v.kind === 'const') return { dims: intValues(v.tensor, this.modelPath), scalar: (v.tensor.dims ?? []).length === 0 };
      return fail(`input ${i} is not a constant`);
    };
    switch (op) {
      case 'Constant': {
        const a = attributes(node);
        const t = attr(a, 'value')?.t;
        if (t) return void set({ kind: 'const', tensor: t, name: out0 });
        const vi = attr(a, 'value_ints');
        if (vi) return void set({ kind: 'ints', dims: (vi.ints ?? []).map(toNumber), scalar: false });
        const v1 = attr(a, 'value_int');
        if (v1) return void set({ kind: 'ints', dims: [toNumber(v1.i)], scalar: true });
        return fail('is a Constant of a kind vggc does not read (only tensors and integers)');
      }
      case 'Identity': {
        const v = get(0);
        if (!v) return fail('has no input');
        return void set(v);
      }
      case 'Gather': {
        const data = intsOf(0);
        const idx = intsOf(1);
        const axis = toNumber(attr(attrs, 'axis')?.i ?? 0);
        if (axis !== 0 || data.scalar) fail('gathers along an axis other than 0 of a shape vector');
        const picked = idx.dims.map((d) => {
          if (typeof d !== 'number') return fail('has a non-constant index');
          const j = d < 0 ? d + data.dims.length : d;
          if (j < 0 || j >= data.dims.length) return fail(`index ${d} is out of range for a shape of rank ${data.dims.length}`);
          return data.dims[j];
        });
        return void set({ kind: 'ints', dims: picked, scalar: idx.scalar });
      }
      case 'Unsqueeze': {
        const data = intsOf(0);
        const axes = this.opset >= 13 ? (get(1) ? intsOf(1).dims : []) : (ints(attrs, 'axes') ?? []);
        if (!data.scalar || axes.length !== 1 || axes[0] !== 0) fail('is not the unsqueeze of a scalar (as in x.view(x.shape[0], -1))');
        return void set({ kind: 'ints', dims: data.dims, scalar: false });
      }
      case 'Concat': {
        const parts = (node.input ?? []).map((_, i) => intsOf(i));
        return void set({ kind: 'ints', dims: parts.flatMap((p) => p.dims), scalar: false });
      }
      case 'Cast':
      case 'Squeeze': {
        const data = intsOf(0);
        return void set({ kind: 'ints', dims: data.dims, scalar: op === 'Squeeze' ? data.dims.length === 1 : data.scalar });
      }
      default:
        fail(`operator ${op} on constants is not supported; vggc imports VGG graphs made of ${SUPPORTED_OPS}`);
    }
  }

  private shapeValue(v: Value | undefined, fail: (m: string) => never): Dim[] {
    if (!v) return fail('has no shape input');
    if (v.kind === 'ints') return [...v.dims];
    if (v.kind === 'const') return intValues(v.tensor, this.modelPath);
    return fail('its shape input is computed from the activation in a way vggc cannot follow');
  }
}

/** Integer contents of a small constant tensor (INT64 or INT32; raw or typed fields). */
function intValues(t: TensorProto, modelPath: string): number[] {
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

function sliceDims(dims: Dim[], start: number, end: number): Dim[] {
  const n = dims.length;
  const clamp = (i: number) => Math.max(0, Math.min(n, i < 0 ? i + n : i));
  return dims.slice(clamp(start), clamp(end));
}

function attributes(node: NodeProto): Map<string, AttributeProto> {
  return new Map((node.attribute ?? []).map((a) => [a.name ?? '', a]));
}
const attr = (a: Map<string, AttributeProto>, name: string): AttributeProto | undefined => a.get(name);
const ints = (a: Map<string, AttributeProto>, name: string): number[] | undefined => {
  const v = a.get(name);
  return v ? (v.ints ?? []).map(toNumber) : undefined;
};
const str = (a: Map<string, AttributeProto>, name: string): string | undefined => {
  const v = a.get(name)?.s;
  return v ? new TextDecoder().decode(v) : undefined;
};

function describeNode(node: NodeProto, index: number): string {
  return node.name ? `node ${JSON.stringify(node.name)} (${node.opType})` : `node #${index} (${node.opType}, unnamed)`;
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

/** The WeightSource over the matched tensors, for exactly `params` (buildGraph(config).params). */
function openWeights(modelPath: string, weights: ReadonlyMap<string, WeightRef>, params: readonly ParamTensor[], opts: OnnxWeightOptions): WeightSource {
  const fail = (msg: string): never => {
    throw new VggcError(`${modelPath}: ${msg}`);
  };
  for (const p of params) {
    const w = weights.get(p.key);
    if (!w) fail(`the model has no tensor for ${p.key} (expected shape [${p.shape.join(', ')}])`);
    if (!sameShape(w!.shape, p.shape)) fail(`tensor ${JSON.stringify(w!.origin)} (${p.key}) has shape [${w!.shape.join(', ')}] but the config expects [${p.shape.join(', ')}]`);
  }
  const files = new FileCache(modelPath);
  /** Whole transposed matrices, read once (a column of the stored matrix is a row of torch's). */
  const transposedCache = new Map<string, Float32Array>();
  let closed = false;
  return {
    description: modelPath,
    readRows(param, rowStart, rowEnd) {
      if (closed) throw new Error(`${modelPath} was already closed`);
      const w = weights.get(param.key);
      if (!w) throw new Error(`${param.key} is not one of the parameters ${modelPath} was opened for`);
      const rows = w.shape[0] ?? 1;
      if (!(Number.isInteger(rowStart) && Number.isInteger(rowEnd) && 0 <= rowStart && rowStart <= rowEnd && rowEnd <= rows)) {
        throw new Error(`rows [${rowStart}, ${rowEnd}) out of range for ${param.key} with ${rows} rows`);
      }
      const rowElems = w.shape.slice(1).reduce((a, b) => a * b, 1);
      const count = (rowEnd - rowStart) * rowElems;
      let out: Float32Array;
      if (!w.tensor) {
        out = new Float32Array(count);
      } else if (!w.transposed) {
        out = readElements(w.tensor, rowStart * rowElems, count, files);
      } else {
        let full = transposedCache.get(param.key);
        if (!full) {
          full = readElements(w.tensor, 0, rows * rowElems, files);
          transposedCache.set(param.key, full);
        }
        out = new Float32Array(count);
        for (let r = rowStart; r < rowEnd; r++) {
          const o = (r - rowStart) * rowElems;
          for (let i = 0; i < rowElems; i++) out[o + i] = full[i * rows + r];
        }
      }
      if (!opts.allowNonfinite) {
        for (let i = 0; i < out.length; i++) {
          if (!Number.isFinite(out[i])) {
            const flat = rowStart * rowElems + i;
            fail(`tensor ${JSON.stringify(w.origin)} (${param.key}) has ${out[i]} at index [${unravel(flat, w.shape).join(', ')}] (use --allow-nonfinite to accept it)`);
          }
        }
      }
      return out;
    },
    close() {
      if (!closed) files.close();
      transposedCache.clear();
      closed = true;
    },
  };
}


