/**
 * Fully-connected layer over the images of a batch: Y[n] = W·X[n] + b (+ ReLU). Memory-bound at
 * batch 1 (VGG-11's fc1 streams 411 MB), so the weights are packed [O/8][I][8] and read front to back.
 * The SIMD kernel is here; its scalar reference is linear-ref.ts.
 *
 * Both paths use the shared register tile (simd.ts):
 * - groups of 4 images, per 8-feature output block: one row per image — each weight vector loaded
 *   once serves 4 images, so the weights stream once per 4 images instead of once per image;
 * - the 1–3 images left over, one at a time: one row per output block, 4 blocks at once (their 8
 *   accumulators are independent add chains, which hide the add latency a single chain would wait on).
 * Every output is summed in input order, acc = madd(acc, x, w), on both paths and in the scalar
 * reference: an image's outputs do not depend on the batch it runs in (a server that batches requests
 * returns each the bits it would get alone).
 * The number of images comes from the run parameters the host writes (RUN_PARAMS + RUN_PARAM_IMAGES,
 * module-level constants of the generated code).
 *
 * Stored weight dtypes (--weights-dtype): f16 and int8 blocks are 2× / 4× smaller and widened to
 * f32x4 in registers as they stream in (the layer is memory-bound, so fewer bytes is faster). int8 is
 * accumulated unscaled: the per-feature scale is constant along the reduction, so it is applied once
 * to each output, y = acc·scale + b.
 */
import type { LinearStep } from '../../program.js';
import { FC_BATCH_TILE, GEMV_BLOCKS } from '../../schedule/tuning.js';
import { ELEMENT_BYTES, OUT_BLOCK, type WeightsDtype } from '../../weights/layout.js';
import { constant, grouped, indent, layerHeader, range, stepPrefix } from '../text.js';
import { emitLinearReference } from './linear-ref.js';
import { acc, BLOCK_BYTES, F32_BYTES, tileAccumulators, tileReduction, V128_BYTES } from './simd.js';

/** Code that loads the 8 weights of input feature `u` (relative to k, plus `extra` bytes) into f32x4 w0, w1. */
function loadWeights(dtype: WeightsDtype, u: number, extra = 0): string {
  const at = u * OUT_BLOCK * ELEMENT_BYTES[dtype] + extra;
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
  const bias = (ob: string, h: 0 | 1): string => `v128.load(${p}_B + <usize>(${ob}) * ${BLOCK_BYTES}${h ? `, ${V128_BYTES}` : ''})`;
  const scale = (ob: string, h: 0 | 1): string => `v128.load(${p}_S + <usize>(${ob}) * ${BLOCK_BYTES}${h ? `, ${V128_BYTES}` : ''})`;
  // y = acc + b, or acc·scale + b for int8.
  const out = (a: string, ob: string, h: 0 | 1): string => act(scaled ? `madd(${bias(ob, h)}, ${a}, ${scale(ob, h)})` : `f32x4.add(${a}, ${bias(ob, h)})`);
  const store = (n: string, ob: string, a0: string, a1: string): string[] => [
    `v128.store(${p}_Y + <usize>(${n}) * ${p}_Y_IMAGE + <usize>(${ob}) * ${BLOCK_BYTES}, ${out(a0, ob, 0)});`,
    `v128.store(${p}_Y + <usize>(${n}) * ${p}_Y_IMAGE + <usize>(${ob}) * ${BLOCK_BYTES}, ${out(a1, ob, 1)}, ${V128_BYTES});`,
  ];
  const R = FC_BATCH_TILE;
  const wBlock = I * blockBytes; // bytes of weights per 8-feature output block
  const xImage = step.input.layout.kind === 'vector' ? step.input.layout.stored * F32_BYTES : 0;
  /** The register tile over `rows` rows: images (one weight block) or weight blocks (one image). */
  const tile = (rows: number, overImages: boolean): string[] => [
    `let x: usize = ${p}_X + <usize>n * ${p}_X_IMAGE;`,
    `let k: usize = ${p}_W + <usize>ob * ${p}_W_BLOCK;`,
    ...tileAccumulators(rows),
    ...tileReduction(
      overImages
        ? { shares: 'weights', rows, steps: I, rowInput: (r) => ({ address: 'x', offset: r * xImage }), loadWeights: loadWeights(dtype, 0), xStride: F32_BYTES, kStride: blockBytes }
        : { shares: 'input', rows, steps: I, loadRowWeights: (r) => loadWeights(dtype, 0, r * wBlock), xStride: F32_BYTES, kStride: blockBytes },
    ),
    ...range(rows).flatMap((r) => (overImages ? store(`n + ${r}`, 'ob', acc(r, 0), acc(r, 1)) : store('n', `ob + ${r}`, acc(r, 0), acc(r, 1)))),
  ];
  return [
    ...header, ...consts,
    `export function ${step.exportName}(blockStart: i32, blockEnd: i32, worker: i32): void {`,
    `  const images = load<i32>(RUN_PARAMS, RUN_PARAM_IMAGES);`,
    `  const zero = f32x4.splat(0);`,
    `  const tiled = images - images % ${R}; // images in whole ${R}-image tiles`,
    `  // ${R} images × 1 block of 8 features`,
    `  for (let ob = blockStart; ob < blockEnd; ob++) {`,
    `    for (let n = 0; n < tiled; n += ${R}) {`,
    ...indent(tile(R, true), 3),
    `    }`,
    `  }`,
    `  // the images left over: 1 image × ${GEMV_BLOCKS} blocks (independent chains hide the add latency), then 1 × 1`,
    `  for (let n = tiled; n < images; n++) {`,
    `    let ob = blockStart;`,
    `    for (; ob + ${GEMV_BLOCKS} <= blockEnd; ob += ${GEMV_BLOCKS}) {`,
    ...indent(tile(GEMV_BLOCKS, false), 3),
    `    }`,
    `    for (; ob < blockEnd; ob++) {`,
    ...indent(tile(1, false), 3),
    `    }`,
    `  }`,
    `}`,
  ];
}
