/**
 * Load-time Winograd filter transform (`prepare…` functions, run once by the runtime after the
 * weights are in memory, before any layer): the weights keep the 3×3 filters — 4× (f32), 8× (f16) or
 * 16× (int8) fewer bytes than the f32 transformed filter U, which has α² values per 3×3 filter (36 for F(4×4)) — and
 * this kernel dequantises them (f16/int8) and computes U = G g Gᵀ in f32 into the layer's `prepared`
 * tensor, in the layout the Winograd GEMM reads.
 *
 * Work item = one 8-channel output block; for each input channel, the 9 taps of the 8 filters are
 * loaded as two f32x4 (int8: × the channels' scales, giving exactly the f32 values q·scale the compiler
 * rounds direct convolutions to), then G g (α×3) and (G g) Gᵀ (α×α) are straight-line f32x4 code.
 * Padded input channels (ci ≥ Ci, up to the input map's stored channel count) get zero filters.
 */
import type { WinogradConvStep } from '../../program.js';
import { ELEMENT_BYTES, OUT_BLOCK, type WeightsDtype } from '../../weights/layout.js';
import { constant, indent, layerHeader, range, stepPrefix } from '../text.js';
import { F32_BYTES as F32, V128_BYTES as HALF } from './simd.js';
import { combo } from './winograd-transforms.js';

export function emitPrepareFilter(step: WinogradConvStep, dtype: WeightsDtype): string[] {
  const s = step.schedule;
  const T = s.winograd.transform;
  const A = T.alpha;
  if (!step.prepared || (dtype === 'int8' && !step.scale)) throw new Error('codegen: filter transform without its 3×3 filters (or their int8 scales)');
  const { conv } = s.layer;
  const ci = conv.input.c;
  const cop = s.outStride;
  const inChannelsStored = s.inStride;
  const element = ELEMENT_BYTES[dtype];
  const p = stepPrefix(step.index, 'P');
  const tapBytes = ci * OUT_BLOCK * element; // one (ky, kx) slice [Ci][8] of a block
  const uXi = (cop / OUT_BLOCK) * inChannelsStored * OUT_BLOCK * F32;
  const header = layerHeader(`prepare for layer ${step.index}: ${conv.id} — ${step.prepared.kernel}`, [
    `in  ${dtype} 3×3 filters [${cop / OUT_BLOCK}][3][3][${ci}][8] at ${step.weight.address}${step.scale ? `, scales at ${step.scale.address}` : ''}`,
    `out f32 U [${A * A}][${cop / OUT_BLOCK}][${inChannelsStored}][8] at ${step.prepared.address} (${step.prepared.bytes} bytes)`,
    `runs once at load; work item = one 8-channel output block`,
  ]);
  const consts = [
    constant(`${p}_Q`, step.weight.address, `quantised filters (${dtype})`),
    constant(`${p}_Q_CB`, 9 * tapBytes, 'bytes per 8-channel output block'),
    ...(step.scale ? [constant(`${p}_S`, step.scale.address, 'int8 scales, one per output channel')] : []),
    constant(`${p}_U`, step.prepared.address, 'transformed filters U'),
    constant(`${p}_U_XI`, uXi, 'bytes of U per frequency'),
    constant(`${p}_U_CB`, inChannelsStored * OUT_BLOCK * F32, 'bytes of U per 8-channel output block'),
  ];
  /** Taps of this input channel for output lanes 0–3 (h = 0) or 4–7 (h = 1), as f32x4. */
  const tap = (t: number, h: 0 | 1): string => {
    if (dtype === 'int8') return `f32x4.mul(${h ? 'int8High4' : 'int8Low4'}(v128.load8x8_s(q, ${t * tapBytes})), s${h})`;
    if (dtype === 'f32') return `v128.load(q, ${t * tapBytes + h * HALF})`;
    return `${h ? 'halfHigh4' : 'halfLow4'}(v128.load(q, ${t * tapBytes}))`;
  };
  const half = (h: 0 | 1): string[] => [
    `{ // output channels ${4 * h}–${4 * h + 3} of the block`,
    ...range(9).map((t) => `  const g${t} = ${tap(t, h)};`),
    // G g: row i of G times the 3×3 filter's columns
    ...range(A).flatMap((i) => range(3).map((c) => `  const r${i}_${c} = ${combo(T.G[i].map((k, r) => [k, `g${r * 3 + c}`] as const))};`)),
    // (G g) Gᵀ
    ...range(A).flatMap((i) => range(A).map((j) => `  v128.store(u, ${combo(T.G[j].map((k, c) => [k, `r${i}_${c}`] as const))}, ${(i * A + j) * uXi + h * HALF}); // ξ = ${i * A + j}`)),
    `}`,
  ];
  return [
    ...header,
    ...consts,
    `export function ${step.prepared.exportName}(itemStart: i32, itemEnd: i32, worker: i32): void {`,
    `  for (let cb = itemStart; cb < itemEnd; cb++) {`,
    ...(step.scale ? [`    const s0 = v128.load(${p}_S + <usize>cb * ${OUT_BLOCK * F32}), s1 = v128.load(${p}_S + <usize>cb * ${OUT_BLOCK * F32}, ${HALF});`] : []),
    `    for (let c = 0; c < ${ci}; c++) {`,
    `      const q: usize = ${p}_Q + <usize>cb * ${p}_Q_CB + <usize>c * ${OUT_BLOCK * element};`,
    `      const u: usize = ${p}_U + <usize>cb * ${p}_U_CB + <usize>c * ${OUT_BLOCK * F32};`,
    ...indent([...half(0), ...half(1)], 3),
    `    }`,
    ...(ci < inChannelsStored
      ? [
          `    // padded input channels ${ci}–${inChannelsStored - 1}: zero, whatever the memory held`,
          `    for (let c = ${ci}; c < ${inChannelsStored}; c++) {`,
          `      const u: usize = ${p}_U + <usize>cb * ${p}_U_CB + <usize>c * ${OUT_BLOCK * F32};`,
          `      for (let xi = 0; xi < ${A * A}; xi++) { v128.store(u + <usize>xi * ${p}_U_XI, f32x4.splat(0)); v128.store(u + <usize>xi * ${p}_U_XI, f32x4.splat(0), ${HALF}); }`,
          `    }`,
        ]
      : []),
    `  }`,
    `}`,
  ];
}
