/**
 * One small handler per ONNX operator on the activation: each checks the node against what a VGG
 * has there (the walk's phase and what the previous layer node left pending), records its weights,
 * and produces the activation's new shape. The state they update is walker.ts's Walk.
 */
import { BATCHNORM_EPS } from '../../graph/graph.js';
import { attr, int, intValues, ints, sameShape, str } from './nodes.js';
import { shapeOf, shapeValue } from './shapes.js';
import { toNumber } from './tensors.js';
import type { Dim, LinearRecord, NodeView, Walk } from './walker.js';

type Handler = (w: Walk, n: NodeView) => void;

const noAutoPad = (autoPad: string, also = ''): boolean => autoPad === 'NOTSET' || autoPad === '' || autoPad === also;

const passThrough: Handler = (w, n) => {
  const shape = n.actIn(0);
  if (n.op === 'Dropout') {
    // Opset 12+: training_mode is input 2; it must be absent or a constant false.
    const tm = n.get(2);
    if (tm && (tm.kind !== 'const' || intValues(tm.tensor, w.modelPath).some((v) => v !== 0))) n.fail('has training_mode that is not a constant false; export the model in eval mode');
    if (w.opset < 7 && int(n.attrs, 'is_test', 1) === 0) n.fail('is in training mode (is_test 0)');
    n.extraOutputs("Dropout's mask");
  }
  n.produce(shape);
};

const conv: Handler = (w, n) => {
  n.expect(w.phase === 'features' && w.pending === 'none', 'a Conv must start a layer in the convolutional part (after the input, a Relu or a MaxPool)');
  const shape = n.actIn(0);
  const dims = (n.constArg(1, 'weight').dims ?? []).map(toNumber);
  const [o, c, kh, kw] = dims;
  if (dims.length !== 4 || kh !== 3 || kw !== 3) n.fail(`its weight has shape [${dims.join(', ')}]; vggc supports 3×3 convolutions only ([out, in, 3, 3])`);
  if (c !== shape[0]) n.fail(`its weight has shape [${dims.join(', ')}] for ${c} input channels, but its input has ${shape[0]} channels (grouped convolution?)`);
  const ks = ints(n.attrs, 'kernel_shape');
  if (ks && !sameShape(ks, [3, 3])) n.fail(`kernel_shape [${ks.join(', ')}]; vggc supports 3×3 only`);
  const strides = ints(n.attrs, 'strides') ?? [1, 1];
  if (!sameShape(strides, [1, 1])) n.fail(`strides [${strides.join(', ')}]; VGG convolutions have stride 1`);
  const dil = ints(n.attrs, 'dilations') ?? [1, 1];
  if (!sameShape(dil, [1, 1])) n.fail(`dilations [${dil.join(', ')}]; VGG convolutions are not dilated`);
  const group = int(n.attrs, 'group', 1);
  if (group !== 1) n.fail(`group ${group}; vggc supports ordinary (group 1) convolutions only`);
  const autoPad = str(n.attrs, 'auto_pad') ?? 'NOTSET';
  const pads = ints(n.attrs, 'pads') ?? [0, 0, 0, 0];
  const padOk = autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER' || (noAutoPad(autoPad) && sameShape(pads, [1, 1, 1, 1]));
  if (!padOk) n.fail(`${!noAutoPad(autoPad) ? `auto_pad ${autoPad}` : `pads [${pads.join(', ')}]`}; VGG convolutions pad 1 on every side`);
  if (w.blockConvs > 0 && o !== w.blockFeatures) {
    n.fail(`outputs ${o} channels but the previous convolution of this block outputs ${w.blockFeatures}; in a vggc block every convolution has the same width (each block is [in_channels, num_conv_layers, num_features])`);
  }
  w.pendingConv = { weight: n.weight(1, 'weight', [o, c, 3, 3]), bias: n.get(2) ? n.weight(2, 'bias', [o]) : n.zeros([o]) };
  w.blockFeatures = o;
  w.setPending('conv', n.where);
  n.produce([o, shape[1], shape[2]]);
};

const batchNormalization: Handler = (w, n) => {
  n.expect(w.pending === 'conv', 'BatchNormalization must follow a Conv directly');
  if (w.batchNorm === false) n.fail('the earlier convolutions have no BatchNormalization; vggc needs all or none of them normalised');
  const shape = n.actIn(0);
  const eps = attr(n.attrs, 'epsilon')?.f ?? BATCHNORM_EPS;
  if (Math.fround(eps) !== Math.fround(BATCHNORM_EPS)) n.fail(`epsilon is ${eps}; vggc folds BatchNorm with torch's default ε = 1e-5 only`);
  if (int(n.attrs, 'training_mode', 0) !== 0) n.fail('has training_mode 1; export the model in eval mode (model.eval())');
  if (w.opset < 7 && int(n.attrs, 'is_test', 0) === 0) n.fail('is in training mode (is_test 0)');
  n.extraOutputs("BatchNormalization's training-mode statistics");
  const c = shape[0];
  w.pendingBn = { weight: n.weight(1, 'scale', [c]), bias: n.weight(2, 'B', [c]), runningMean: n.weight(3, 'mean', [c]), runningVar: n.weight(4, 'var', [c]) };
  w.setPending('bn', n.where);
  n.produce(shape);
};

const relu: Handler = (w, n) => {
  const shape = n.actIn(0);
  if (w.pending === 'conv' || w.pending === 'bn') {
    const hasBn = w.pending === 'bn';
    if (w.batchNorm !== null && w.batchNorm !== hasBn) n.fail(`follows a Conv ${hasBn ? 'with' : 'without'} BatchNormalization, but the earlier convolutions are ${w.batchNorm ? 'normalised' : 'not normalised'}; vggc needs all or none of them normalised`);
    w.batchNorm = hasBn;
    w.convs.push({ ...w.pendingConv!, bn: hasBn ? w.pendingBn : null });
    w.pendingConv = null;
    w.pendingBn = null;
    w.blockConvs++;
    w.setPending('none', n.where);
  } else if (w.pending === 'linear') {
    w.linears[w.linears.length - 1].relu = true;
    w.setPending('fcrelu', n.where);
  } else {
    n.fail(w.pending === 'matmul' ? 'follows a MatMul that has no bias Add' : 'must follow a Conv, a BatchNormalization or a Gemm (Linear); two activations in a row are not a VGG');
  }
  n.produce(shape);
};

const maxPool: Handler = (w, n) => {
  n.expect(w.phase === 'features' && w.pending === 'none' && w.blockConvs > 0, 'a MaxPool must end a block of Conv → Relu layers');
  const shape = n.actIn(0);
  const ks = ints(n.attrs, 'kernel_shape');
  const strides = ints(n.attrs, 'strides') ?? [1, 1];
  const pads = ints(n.attrs, 'pads') ?? [0, 0, 0, 0];
  const dil = ints(n.attrs, 'dilations') ?? [1, 1];
  const ceil = int(n.attrs, 'ceil_mode', 0);
  const autoPad = str(n.attrs, 'auto_pad') ?? 'NOTSET';
  const ok = ks && sameShape(ks, [2, 2]) && sameShape(strides, [2, 2]) && pads.every((p) => p === 0) && sameShape(dil, [1, 1]) && ceil === 0 && noAutoPad(autoPad, 'VALID');
  if (!ok) n.fail(`kernel_shape [${ks?.join(', ') ?? ''}] strides [${strides.join(', ')}] pads [${pads.join(', ')}] ceil_mode ${ceil}${autoPad !== 'NOTSET' ? ` auto_pad ${autoPad}` : ''}; VGG blocks end with a 2×2 stride-2 max-pool without padding or ceil_mode`);
  n.extraOutputs("MaxPool's indices");
  const [c, h, wd] = shape;
  if (h < 2 || wd < 2) n.fail(`its input is ${h}×${wd}, too small for a 2×2 max-pool`);
  w.blocks.push([w.blockIn, w.blockConvs, c]);
  w.blockIn = c;
  w.blockConvs = 0;
  w.map = { c, h: Math.floor(h / 2), w: Math.floor(wd / 2) };
  n.produce([c, w.map.h, w.map.w]);
};

/** torch exports AdaptiveAvgPool2d((h, w)) as GlobalAveragePool (1×1) or AveragePool kernel = stride = map / out. */
const averagePool: Handler = (w, n) => {
  n.expect(w.phase === 'features' && w.pending === 'none' && w.blockConvs === 0 && w.blocks.length > 0, "the average pool must follow the last block's MaxPool");
  const [c, h, wd] = n.actIn(0);
  if (n.op === 'GlobalAveragePool') {
    w.avgPool = [1, 1];
  } else {
    const ks = ints(n.attrs, 'kernel_shape') ?? [];
    const strides = ints(n.attrs, 'strides') ?? [1, 1];
    const pads = ints(n.attrs, 'pads') ?? [0, 0, 0, 0];
    const ceil = int(n.attrs, 'ceil_mode', 0);
    const autoPad = str(n.attrs, 'auto_pad') ?? 'NOTSET';
    const dil = ints(n.attrs, 'dilations') ?? [1, 1];
    const mappable = ks.length === 2 && sameShape(strides, ks) && pads.every((p) => p === 0) && ceil === 0 && noAutoPad(autoPad, 'VALID') && sameShape(dil, [1, 1]) && h % ks[0] === 0 && wd % ks[1] === 0;
    if (!mappable) {
      n.fail(`kernel_shape [${ks.join(', ')}] strides [${strides.join(', ')}] pads [${pads.join(', ')}] ceil_mode ${ceil} on a ${h}×${wd} map is not an adaptive average pool (vggc's avgPool needs kernel = stride dividing the map, as torch exports AdaptiveAvgPool2d)`);
    }
    w.avgPool = [h / ks[0], wd / ks[1]];
  }
  w.map = { c, h: w.avgPool[0], w: w.avgPool[1] };
  w.phase = 'pooled';
  n.produce([c, w.map.h, w.map.w]);
};

const flatten: Handler = (w, n) => {
  n.expect((w.phase === 'pooled' || (w.phase === 'features' && w.blockConvs === 0 && w.blocks.length > 0)) && w.pending === 'none', `${n.op} must follow the last block's MaxPool or the average pool`);
  const shape = n.actIn(0);
  const features = shape.reduce((a, b) => a * b, 1);
  if (n.op === 'Flatten') {
    const axis = int(n.attrs, 'axis', 1);
    if (axis !== 1 && axis !== -3) n.fail(`axis ${axis}; vggc flattens N×C×H×W to N×(C·H·W) (axis 1)`);
  } else {
    const target = shapeValue(w, n.get(1), n.fail);
    const allowZero = int(n.attrs, 'allowzero', 0);
    const isBatch = (d: Dim, allowInfer: boolean): boolean => d === 'batch' || (d === 0 && allowZero === 0) || (d === -1 && allowInfer) || (w.staticBatch !== null && d === w.staticBatch);
    const ok = target.length === 2 && ((isBatch(target[0], false) && (target[1] === features || target[1] === -1)) || (isBatch(target[0], true) && target[1] === features));
    if (!ok) n.fail(`reshapes the ${shape.join('×')} map to [${target.join(', ')}]; vggc supports only flattening to [batch, ${features}]`);
  }
  w.phase = 'flat';
  n.produce([features]);
};

const linear: Handler = (w, n) => {
  n.expect(w.phase === 'flat' && (w.pending === 'none' || w.pending === 'fcrelu'), `a ${n.op} (Linear layer) must follow Flatten or the previous Linear layer's Relu`);
  const shape = n.actIn(0);
  if (shape.length !== 1) n.fail(`its input is not flattened (${shape.join('×')})`);
  const dims = (n.constArg(1, 'weight').dims ?? []).map(toNumber);
  let transposed = true;
  if (n.op === 'Gemm') {
    const alpha = attr(n.attrs, 'alpha')?.f ?? 1;
    const beta = attr(n.attrs, 'beta')?.f ?? 1;
    const transA = int(n.attrs, 'transA', 0);
    transposed = int(n.attrs, 'transB', 0) === 0;
    if (alpha !== 1 || beta !== 1 || transA !== 0) n.fail(`alpha ${alpha} beta ${beta} transA ${transA}; vggc imports Gemm as a Linear layer (alpha 1, beta 1, transA 0)`);
  }
  if (dims.length !== 2) n.fail(`its weight has shape [${dims.join(', ')}]; expected a matrix`);
  const out = transposed ? dims[1] : dims[0];
  const inF = transposed ? dims[0] : dims[1];
  if (inF !== shape[0]) n.fail(`its weight has shape [${dims.join(', ')}] (${inF} inputs) but its input has ${shape[0]} features`);
  const rec: LinearRecord = { weight: n.weight(1, 'weight', [out, inF], transposed), bias: null, relu: false };
  if (n.op === 'Gemm') rec.bias = n.get(2) ? n.weight(2, 'bias', [out]) : n.zeros([out]);
  w.linears.push(rec);
  w.setPending(n.op === 'Gemm' ? 'linear' : 'matmul', n.where);
  n.produce([out]);
};

/** Add is the bias of a MatMul (torch exports some Linear layers as MatMul + Add). */
const add: Handler = (w, n) => {
  n.expect(w.pending === 'matmul', 'an Add is supported only as the bias of a MatMul (Linear layer)');
  const actSide = n.get(0)?.kind === 'act' ? 0 : 1;
  if (n.get(1 - actSide)?.kind === 'act') n.fail('adds two activations (a skip connection?); vggc imports only a plain chain of layers');
  const shape = n.actIn(actSide);
  w.linears[w.linears.length - 1].bias = n.weight(1 - actSide, 'bias', [shape[0]]);
  w.setPending('linear', n.where);
  n.produce(shape);
};

/** Shape of the activation: the first step of the flatten shape subgraph. */
const shape: Handler = (w, n) => {
  const v = n.get(0) as { kind: 'act'; shape: readonly number[] };
  const end = attr(n.attrs, 'end') ? int(n.attrs, 'end', 0) : undefined;
  n.setValue({ kind: 'ints', dims: shapeOf(v.shape, w.staticBatch, int(n.attrs, 'start', 0), end), scalar: false });
};

export const OP_HANDLERS: Readonly<Record<string, Handler>> = {
  Identity: passThrough,
  Dropout: passThrough,
  Conv: conv,
  BatchNormalization: batchNormalization,
  Relu: relu,
  MaxPool: maxPool,
  AveragePool: averagePool,
  GlobalAveragePool: averagePool,
  Flatten: flatten,
  Reshape: flatten,
  Gemm: linear,
  MatMul: linear,
  Add: add,
  Shape: shape,
};
