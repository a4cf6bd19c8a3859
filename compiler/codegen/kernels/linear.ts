/**
 * Fully-connected layer at batch 1: y = W·x + b (+ ReLU). Memory-bound (VGG-11's fc1 streams 411 MB),
 * so the weights are packed [O/8][I][8] and read exactly once, front to back.
 *
 * SIMD kernel: per 8-feature output block, broadcast x[i] and multiply-add it into two f32x4 of the
 * block; the input dimension is unrolled ×4 into 4 independent accumulator pairs so the adds do not
 * wait on each other, and the pairs are summed at the end.
 * Reference kernel: one dot product per output feature, in input order.
 */
import type { LinearSchedule } from '../../schedule/schedule.js';
import { GEMV_UNROLL } from '../../schedule/schedule.js';
import type { PlannedStep } from '../../plan/plan.js';
import { OUT_BLOCK } from '../../weights/layout.js';
import { constant, grouped, indent, layerHeader } from '../text.js';
import { range } from './conv3x3.js';

const F32 = 4;
const BLOCK_BYTES = OUT_BLOCK * F32;
const HALF = 16;

export function emitLinear(step: PlannedStep, weightsBase: number): string[] {
  const s = step.schedule as LinearSchedule;
  const { linear, relu } = s.step;
  if (!step.weight || !step.bias) throw new Error('codegen: linear step without weights');
  const p = `L${String(step.index).padStart(2, '0')}`;
  const I = linear.inFeatures;
  const header = layerHeader(`layer ${step.index}: ${linear.id}${relu ? ' + ReLU' : ''} — ${s.kernel}`, [
    `in  vector[${I}] at ${step.input.offset}; out vector[${s.outFeaturesPadded}] (${linear.outFeatures} used) at ${step.output.offset}`,
    `weights [${s.outFeaturesPadded / OUT_BLOCK}][${I}][8] at ${weightsBase + step.weight.offset}, bias at ${weightsBase + step.bias.offset}`,
    `MACs ${grouped(s.macs)}; work item = one block of 8 output features`,
  ]);
  const consts = [
    constant(`${p}_X`, step.input.offset, 'input vector'),
    constant(`${p}_Y`, step.output.offset, 'output vector, padded to whole blocks'),
    constant(`${p}_W`, weightsBase + step.weight.offset, 'packed weights'),
    constant(`${p}_W_BLOCK`, I * BLOCK_BYTES, 'bytes of weights per 8-feature output block'),
    constant(`${p}_B`, weightsBase + step.bias.offset, 'bias, padded to whole blocks'),
  ];
  const act = (v: string): string => (relu ? `relu4(${v})` : v);
  const act1 = (v: string): string => (relu ? `relu1(${v})` : v);
  if (s.kernel.endsWith('scalar-ref')) {
    return [
      ...header, ...consts,
      `export function ${step.exportName}(blockStart: i32, blockEnd: i32, worker: i32): void {`,
      `  for (let o = blockStart * 8; o < blockEnd * 8; o++) {`,
      `    if (o >= ${linear.outFeatures}) { store<f32>(${p}_Y + <usize>o * 4, 0); continue; } // padding feature`,
      `    let sum: f32 = 0;`,
      `    for (let i = 0; i < ${I}; i++) {`,
      `      sum += load<f32>(${p}_X + <usize>i * 4) * load<f32>(${p}_W + <usize>(o >> 3) * ${p}_W_BLOCK + <usize>i * ${BLOCK_BYTES} + <usize>(o & 7) * 4);`,
      `    }`,
      `    store<f32>(${p}_Y + <usize>o * 4, ${act1(`sum + load<f32>(${p}_B + <usize>o * 4)`)});`,
      `  }`,
      `}`,
    ];
  }
  const quads = Math.floor(I / GEMV_UNROLL);
  const rest = I % GEMV_UNROLL;
  const mac = (u: number, acc: number): string =>
    `{ const xi = v128.load32_splat(x, ${u * F32}); a${acc}_0 = madd(a${acc}_0, xi, v128.load(k, ${u * BLOCK_BYTES})); a${acc}_1 = madd(a${acc}_1, xi, v128.load(k, ${u * BLOCK_BYTES + HALF})); }`;
  return [
    ...header, ...consts,
    `export function ${step.exportName}(blockStart: i32, blockEnd: i32, worker: i32): void {`,
    `  const zero = f32x4.splat(0);`,
    `  for (let ob = blockStart; ob < blockEnd; ob++) {`,
    `    let x: usize = ${p}_X;`,
    `    let k: usize = ${p}_W + <usize>ob * ${p}_W_BLOCK;`,
    ...range(GEMV_UNROLL).map((a) => `    let a${a}_0 = zero, a${a}_1 = zero;`),
    `    for (let i = 0; i < ${quads}; i++) {`,
    ...indent(range(GEMV_UNROLL).map((u) => mac(u, u)), 3),
    `      x += ${GEMV_UNROLL * F32};`,
    `      k += ${GEMV_UNROLL * BLOCK_BYTES};`,
    `    }`,
    ...indent(range(rest).map((u) => mac(u, u)), 2),
    `    const s0 = f32x4.add(f32x4.add(a0_0, a1_0), f32x4.add(a2_0, a3_0));`,
    `    const s1 = f32x4.add(f32x4.add(a0_1, a1_1), f32x4.add(a2_1, a3_1));`,
    `    const b: usize = ${p}_B + <usize>ob * ${BLOCK_BYTES};`,
    `    const y: usize = ${p}_Y + <usize>ob * ${BLOCK_BYTES};`,
    `    v128.store(y, ${act('f32x4.add(s0, v128.load(b))')});`,
    `    v128.store(y, ${act(`f32x4.add(s1, v128.load(b, ${HALF}))`)}, ${HALF});`,
    `  }`,
    `}`,
  ];
}
