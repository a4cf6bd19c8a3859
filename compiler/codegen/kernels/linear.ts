/**
 * Fully-connected layer over the images of a batch: Y[n] = W·X[n] + b (+ ReLU). Memory-bound at
 * batch 1 (VGG-11's fc1 streams 411 MB), so the weights are packed [O/8][I][8] and read front to back.
 *
 * SIMD kernel, per 8-feature output block:
 * - groups of 4 images: a 4×8 register tile (8 f32x4 accumulators) — each weight vector loaded once
 *   serves 4 images, so the weights stream once per 4 images instead of once per image;
 * - the 1–3 images left over: a GEMV that broadcasts x[i] into two f32x4 of the block, the input
 *   dimension unrolled ×4 into 4 independent accumulator pairs summed at the end.
 * Reference kernel: one dot product per output feature and image, in input order.
 * The number of images comes from the run parameters the host writes (RUN_PARAMS + 4).
 *
 * Stored weight dtypes (--weights-dtype): f16 and int8 blocks are 2× / 4× smaller and widened to
 * f32x4 in registers as they stream in (the layer is memory-bound, so fewer bytes is faster). int8 is
 * accumulated unscaled: the per-feature scale is constant along the reduction, so it is applied once
 * to each output, y = acc·scale + b.
 */
import type { LinearSchedule } from '../../schedule/schedule.js';
import { CONV_UNROLL, FC_BATCH_TILE, GEMV_UNROLL } from '../../schedule/schedule.js';
import { RUN_PARAMS, type PlannedStep } from '../../plan/plan.js';
import { OUT_BLOCK, type WeightsDtype } from '../../weights/layout.js';
import { constant, grouped, indent, layerHeader, range } from '../text.js';

const F32 = 4;
/** Bytes of one f32x4 register: the second half of an 8-feature output block. */
const HALF = 16;
const ELEMENT_BYTES: Record<WeightsDtype, number> = { f32: 4, f16: 2, int8: 1 };

/** Pairwise f32x4 sum of the accumulators (a balanced tree: ((a0+a1)+(a2+a3)) for four). */
function sumTree(terms: string[]): string {
  if (terms.length === 1) return terms[0];
  const half = Math.ceil(terms.length / 2);
  return `f32x4.add(${sumTree(terms.slice(0, half))}, ${sumTree(terms.slice(half))})`;
}

/** Code that loads the 8 weights of input feature `u` (relative to k) into f32x4 w0, w1. */
function loadWeights(dtype: WeightsDtype, u: number): string {
  const at = u * OUT_BLOCK * ELEMENT_BYTES[dtype];
  switch (dtype) {
    case 'f32':
      return `const w0 = v128.load(k, ${at}), w1 = v128.load(k, ${at + HALF});`;
    case 'f16':
      return `const h = v128.load(k, ${at}); const w0 = halfLow4(h), w1 = halfHigh4(h);`;
    case 'int8':
      return `const q = v128.load8x8_s(k, ${at}); const w0 = int8Low4(q), w1 = int8High4(q);`;
  }
}

/** Scalar load of weight element at byte address `addr`, as f32 (int8: unscaled). */
function loadWeight1(dtype: WeightsDtype, addr: string): string {
  switch (dtype) {
    case 'f32':
      return `load<f32>(${addr})`;
    case 'f16':
      return `half1(load<u16>(${addr}))`;
    case 'int8':
      return `<f32>load<i8>(${addr})`;
  }
}

export function emitLinear(step: PlannedStep, weightsBase: number, dtype: WeightsDtype): string[] {
  const s = step.schedule as LinearSchedule;
  const { linear, relu } = s.step;
  const BLOCK_BYTES = OUT_BLOCK * ELEMENT_BYTES[dtype]; // weights of one input feature for the 8 outputs
  const scaled = dtype === 'int8';
  if (scaled && !step.scale) throw new Error('codegen: int8 linear step needs scales');
  if (!step.weight || !step.bias || step.input.layout.kind !== 'vector' || step.output.layout.kind !== 'vector') throw new Error('codegen: linear step needs weights and vectors');
  const p = `L${String(step.index).padStart(2, '0')}`;
  const I = linear.inFeatures;
  const xImage = step.input.layout.stored * F32;
  const yImage = step.output.layout.stored * F32;
  const header = layerHeader(`layer ${step.index}: ${linear.id}${relu ? ' + ReLU' : ''} — ${s.kernel}`, [
    `in  vector[${I}] per image at ${step.input.offset}; out vector[${s.outFeaturesPadded}] (${linear.outFeatures} used) per image at ${step.output.offset}; up to ${step.output.layout.images} images`,
    `weights ${dtype} [${s.outFeaturesPadded / OUT_BLOCK}][${I}][8] at ${weightsBase + step.weight.offset}${step.scale ? `, per-feature scales at ${weightsBase + step.scale.offset}` : ''}, bias at ${weightsBase + step.bias.offset}`,
    `MACs ${grouped(s.macs)} per image; work item = one block of 8 output features (for all images)`,
  ]);
  const consts = [
    constant(`${p}_X`, step.input.offset, 'input vectors'),
    constant(`${p}_X_IMAGE`, xImage, 'bytes per input vector'),
    constant(`${p}_Y`, step.output.offset, 'output vectors, padded to whole blocks'),
    constant(`${p}_Y_IMAGE`, yImage, 'bytes per output vector'),
    constant(`${p}_W`, weightsBase + step.weight.offset, 'packed weights'),
    constant(`${p}_W_BLOCK`, I * BLOCK_BYTES, 'bytes of weights per 8-feature output block'),
    constant(`${p}_B`, weightsBase + step.bias.offset, 'bias, padded to whole blocks'),
    ...(step.scale ? [constant(`${p}_S`, weightsBase + step.scale.offset, 'int8 scales (one per output feature), padded to whole blocks')] : []),
    constant(`${p}_PARAMS`, RUN_PARAMS, 'run parameters: +4 number of images'),
  ];
  const OUT_BYTES = OUT_BLOCK * F32; // one 8-feature block of outputs, biases or scales
  const act = (v: string): string => (relu ? `relu4(${v})` : v);
  const act1 = (v: string): string => (relu ? `relu1(${v})` : v);
  if (s.kernel.endsWith('scalar-ref')) {
    return [
      ...header, ...consts,
      `export function ${step.exportName}(blockStart: i32, blockEnd: i32, worker: i32): void {`,
      `  const images = load<i32>(${p}_PARAMS, 4);`,
      `  for (let n = 0; n < images; n++) {`,
      `    const x: usize = ${p}_X + <usize>n * ${p}_X_IMAGE, y: usize = ${p}_Y + <usize>n * ${p}_Y_IMAGE;`,
      `    for (let o = blockStart * 8; o < blockEnd * 8; o++) {`,
      `      if (o >= ${linear.outFeatures}) { store<f32>(y + <usize>o * 4, 0); continue; } // padding feature`,
      `      let sum: f32 = 0;`,
      `      for (let i = 0; i < ${I}; i++) {`,
      `        sum += load<f32>(x + <usize>i * 4) * ${loadWeight1(dtype, `${p}_W + <usize>(o >> 3) * ${p}_W_BLOCK + <usize>i * ${BLOCK_BYTES} + <usize>(o & 7) * ${ELEMENT_BYTES[dtype]}`)};`,
      `      }`,
      ...(scaled ? [`      sum *= load<f32>(${p}_S + <usize>o * 4);`] : []),
      `      store<f32>(y + <usize>o * 4, ${act1(`sum + load<f32>(${p}_B + <usize>o * 4)`)});`,
      `    }`,
      `  }`,
      `}`,
    ];
  }
  // GEMV (one image): 4 accumulator pairs over i mod 4.
  const quads = Math.floor(I / GEMV_UNROLL);
  const rest = I % GEMV_UNROLL;
  const mac = (u: number, acc: number): string =>
    `{ ${loadWeights(dtype, u)} const xi = v128.load32_splat(x, ${u * F32}); a${acc}_0 = madd(a${acc}_0, xi, w0); a${acc}_1 = madd(a${acc}_1, xi, w1); }`;
  // y = acc + b, or acc·scale + b for int8.
  const out = (acc: string, half: 0 | 1): string => act(scaled ? `madd(b${half}, ${acc}, s${half})` : `f32x4.add(${acc}, b${half})`);
  const gemv = [
    `let x: usize = ${p}_X + <usize>n * ${p}_X_IMAGE;`,
    `let k: usize = w;`,
    ...range(GEMV_UNROLL).map((a) => `let a${a}_0 = zero, a${a}_1 = zero;`),
    `for (let i = 0; i < ${quads}; i++) {`,
    ...indent(range(GEMV_UNROLL).map((u) => mac(u, u))),
    `  x += ${GEMV_UNROLL * F32};`,
    `  k += ${GEMV_UNROLL * BLOCK_BYTES};`,
    `}`,
    ...range(rest).map((u) => mac(u, u)),
    `const y: usize = ${p}_Y + <usize>n * ${p}_Y_IMAGE + <usize>ob * ${OUT_BYTES};`,
    `v128.store(y, ${out(sumTree(range(GEMV_UNROLL).map((a) => `a${a}_0`)), 0)});`,
    `v128.store(y, ${out(sumTree(range(GEMV_UNROLL).map((a) => `a${a}_1`)), 1)}, ${HALF});`,
  ];
  // GEMM tile: FC_BATCH_TILE images × 8 features; image r's input is r·X_IMAGE bytes further.
  const R = FC_BATCH_TILE;
  const pairs = Math.floor(I / CONV_UNROLL);
  const tileStep = (u: number): string[] => [
    `{`,
    `  ${loadWeights(dtype, u)}`,
    ...range(R).map((r) => `  const x${r} = v128.load32_splat(x, ${r * xImage + u * F32}); c${r}_0 = madd(c${r}_0, x${r}, w0); c${r}_1 = madd(c${r}_1, x${r}, w1);`),
    `}`,
  ];
  const gemm = [
    `let x: usize = ${p}_X + <usize>n * ${p}_X_IMAGE;`,
    `let k: usize = w;`,
    ...range(R).map((r) => `let c${r}_0 = zero, c${r}_1 = zero;`),
    `for (let i = 0; i < ${pairs}; i++) {`,
    ...indent(range(CONV_UNROLL).flatMap(tileStep)),
    `  x += ${CONV_UNROLL * F32};`,
    `  k += ${CONV_UNROLL * BLOCK_BYTES};`,
    `}`,
    ...range(I % CONV_UNROLL).flatMap(tileStep),
    ...range(R).flatMap((r) => [
      `v128.store(${p}_Y + <usize>(n + ${r}) * ${p}_Y_IMAGE + <usize>ob * ${OUT_BYTES}, ${out(`c${r}_0`, 0)});`,
      `v128.store(${p}_Y + <usize>(n + ${r}) * ${p}_Y_IMAGE + <usize>ob * ${OUT_BYTES}, ${out(`c${r}_1`, 1)}, ${HALF});`,
    ]),
  ];
  return [
    ...header, ...consts,
    `export function ${step.exportName}(blockStart: i32, blockEnd: i32, worker: i32): void {`,
    `  const images = load<i32>(${p}_PARAMS, 4);`,
    `  const zero = f32x4.splat(0);`,
    `  for (let ob = blockStart; ob < blockEnd; ob++) {`,
    `    const w: usize = ${p}_W + <usize>ob * ${p}_W_BLOCK;`,
    `    const b0 = v128.load(${p}_B + <usize>ob * ${OUT_BYTES}), b1 = v128.load(${p}_B + <usize>ob * ${OUT_BYTES}, ${HALF});`,
    ...(scaled ? [`    const s0 = v128.load(${p}_S + <usize>ob * ${OUT_BYTES}), s1 = v128.load(${p}_S + <usize>ob * ${OUT_BYTES}, ${HALF});`] : []),
    `    let n = 0;`,
    `    for (; n + ${R} <= images; n += ${R}) {`,
    ...indent(gemm, 3),
    `    }`,
    `    for (; n < images; n++) {`,
    ...indent(gemv, 3),
    `    }`,
    `  }`,
    `}`,
  ];
}
