/**
 * Fully-connected layer over the images of a batch: Y[n] = W·X[n] + b (+ ReLU). Memory-bound at
 * batch 1 (VGG-11's fc1 streams 411 MB), so the weights are packed [O/8][I][8] and read front to back.
 * The SIMD kernel is here; its scalar reference is linear-ref.ts.
 *
 * Per 8-feature output block:
 * - groups of 4 images: the shared register tile (simd.ts) with one row per image — each weight
 *   vector loaded once serves 4 images, so the weights stream once per 4 images instead of once per image;
 * - the 1–3 images left over: a GEMV that broadcasts x[i] into two f32x4 of the block, the input
 *   dimension unrolled ×4 into 4 independent accumulator pairs summed at the end.
 * The number of images comes from the run parameters the host writes (RUN_PARAMS + RUN_PARAM_IMAGES,
 * module-level constants of the generated code).
 *
 * Stored weight dtypes (--weights-dtype): f16 and int8 blocks are 2× / 4× smaller and widened to
 * f32x4 in registers as they stream in (the layer is memory-bound, so fewer bytes is faster). int8 is
 * accumulated unscaled: the per-feature scale is constant along the reduction, so it is applied once
 * to each output, y = acc·scale + b.
 */
import type { LinearStep } from '../../program.js';
import { FC_BATCH_TILE, GEMV_UNROLL } from '../../schedule/tuning.js';
import { ELEMENT_BYTES, OUT_BLOCK, type WeightsDtype } from '../../weights/layout.js';
import { constant, grouped, indent, layerHeader, range, stepPrefix } from '../text.js';
import { emitLinearReference } from './linear-ref.js';
import { acc, BLOCK_BYTES, F32_BYTES, tileAccumulators, tileReduction, V128_BYTES } from './simd.js';

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
      return `const w0 = v128.load(k, ${at}), w1 = v128.load(k, ${at + V128_BYTES});`;
    case 'f16':
      return `const h = v128.load(k, ${at}); const w0 = halfLow4(h), w1 = halfHigh4(h);`;
    case 'int8':
      return `const q = v128.load8x8_s(k, ${at}); const w0 = int8Low4(q), w1 = int8High4(q);`;
  }
}

/** The constants both linear kernels (SIMD and reference) are written with. */
export function linearConstants(step: LinearStep): string[] {
  const p = stepPrefix(step.index);
  const { inFeatures } = step.schedule.layer.linear;
  if (step.input.layout.kind !== 'vector' || step.output.layout.kind !== 'vector') throw new Error('codegen: a linear step reads and writes vectors');
  return [
    constant(`${p}_X`, step.input.offset, 'input vectors'),
    constant(`${p}_X_IMAGE`, step.input.layout.stored * F32_BYTES, 'bytes per input vector'),
    constant(`${p}_Y`, step.output.offset, 'output vectors, padded to whole blocks'),
    constant(`${p}_Y_IMAGE`, step.output.layout.stored * F32_BYTES, 'bytes per output vector'),
    constant(`${p}_W`, step.weight.address, 'packed weights'),
    constant(`${p}_W_BLOCK`, inFeatures * OUT_BLOCK * ELEMENT_BYTES[step.weight.layout.dtype], 'bytes of weights per 8-feature output block'),
    constant(`${p}_B`, step.bias.address, 'bias, padded to whole blocks'),
    ...(step.scale ? [constant(`${p}_S`, step.scale.address, 'int8 scales (one per output feature), padded to whole blocks')] : []),
  ];
}

export function emitLinear(step: LinearStep, dtype: WeightsDtype): string[] {
  const s = step.schedule;
  const { linear, relu } = s.layer;
  const scaled = dtype === 'int8';
  if (scaled !== Boolean(step.scale)) throw new Error('codegen: int8 linear steps, and only they, have scales');
  const p = stepPrefix(step.index);
  const I = linear.inFeatures;
  const header = layerHeader(`layer ${step.index}: ${linear.id}${relu ? ' + ReLU' : ''} — ${step.kernel}`, [
    `in  vector[${I}] per image at ${step.input.offset}; out vector[${s.outStride}] (${linear.outFeatures} used) per image at ${step.output.offset}; up to ${step.output.layout.kind === 'vector' ? step.output.layout.images : 0} images`,
    `weights ${dtype} [${s.outStride / OUT_BLOCK}][${I}][${OUT_BLOCK}] at ${step.weight.address}${step.scale ? `, per-feature scales at ${step.scale.address}` : ''}, bias at ${step.bias.address}`,
    `MACs ${grouped(s.macs)} per image; work item = one block of 8 output features (for all images)`,
  ]);
  const consts = linearConstants(step);
  if (s.spec.variant === 'ref') return [...header, ...consts, ...emitLinearReference(step, dtype)];
  const blockBytes = OUT_BLOCK * ELEMENT_BYTES[dtype]; // weights of one input feature for the 8 outputs
  const act = (v: string): string => (relu ? `relu4(${v})` : v);
  // y = acc + b, or acc·scale + b for int8.
  const out = (a: string, half: 0 | 1): string => act(scaled ? `madd(b${half}, ${a}, s${half})` : `f32x4.add(${a}, b${half})`);
  // GEMV (one image): GEMV_UNROLL accumulator pairs over i mod GEMV_UNROLL.
  const quads = Math.floor(I / GEMV_UNROLL);
  const mac = (u: number): string =>
    `{ ${loadWeights(dtype, u)} const xi = v128.load32_splat(x, ${u * F32_BYTES}); a${u}_0 = madd(a${u}_0, xi, w0); a${u}_1 = madd(a${u}_1, xi, w1); }`;
  const gemv = [
    `let x: usize = ${p}_X + <usize>n * ${p}_X_IMAGE;`,
    `let k: usize = w;`,
    ...range(GEMV_UNROLL).map((a) => `let a${a}_0 = zero, a${a}_1 = zero;`),
    `for (let i = 0; i < ${quads}; i++) {`,
    ...indent(range(GEMV_UNROLL).map(mac)),
    `  x += ${GEMV_UNROLL * F32_BYTES};`,
    `  k += ${GEMV_UNROLL * blockBytes};`,
    `}`,
    ...range(I % GEMV_UNROLL).map(mac),
    `const y: usize = ${p}_Y + <usize>n * ${p}_Y_IMAGE + <usize>ob * ${BLOCK_BYTES};`,
    `v128.store(y, ${out(sumTree(range(GEMV_UNROLL).map((a) => `a${a}_0`)), 0)});`,
    `v128.store(y, ${out(sumTree(range(GEMV_UNROLL).map((a) => `a${a}_1`)), 1)}, ${V128_BYTES});`,
  ];
  // GEMM tile: FC_BATCH_TILE images × 8 features; image r's input is r·X_IMAGE bytes further.
  const R = FC_BATCH_TILE;
  const xImage = step.input.layout.kind === 'vector' ? step.input.layout.stored * F32_BYTES : 0;
  const gemm = [
    `let x: usize = ${p}_X + <usize>n * ${p}_X_IMAGE;`,
    `let k: usize = w;`,
    ...tileAccumulators(R),
    ...tileReduction({ rows: R, steps: I, rowInput: (r) => ({ address: 'x', offset: r * xImage }), loadWeights: loadWeights(dtype, 0), xStride: F32_BYTES, kStride: blockBytes }),
    ...range(R).flatMap((r) => [
      `v128.store(${p}_Y + <usize>(n + ${r}) * ${p}_Y_IMAGE + <usize>ob * ${BLOCK_BYTES}, ${out(acc(r, 0), 0)});`,
      `v128.store(${p}_Y + <usize>(n + ${r}) * ${p}_Y_IMAGE + <usize>ob * ${BLOCK_BYTES}, ${out(acc(r, 1), 1)}, ${V128_BYTES});`,
    ]),
  ];
  return [
    ...header, ...consts,
    `export function ${step.exportName}(blockStart: i32, blockEnd: i32, worker: i32): void {`,
    `  const images = load<i32>(RUN_PARAMS, RUN_PARAM_IMAGES);`,
    `  const zero = f32x4.splat(0);`,
    `  for (let ob = blockStart; ob < blockEnd; ob++) {`,
    `    const w: usize = ${p}_W + <usize>ob * ${p}_W_BLOCK;`,
    `    const b0 = v128.load(${p}_B + <usize>ob * ${BLOCK_BYTES}), b1 = v128.load(${p}_B + <usize>ob * ${BLOCK_BYTES}, ${V128_BYTES});`,
    ...(scaled ? [`    const s0 = v128.load(${p}_S + <usize>ob * ${BLOCK_BYTES}), s1 = v128.load(${p}_S + <usize>ob * ${BLOCK_BYTES}, ${V128_BYTES});`] : []),
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
