/**
 * What a conv or Linear step leaves undone when a named output split its fusion (fuse/fuse.ts): ReLU
 * and/or the 2×2 max-pool over a stored map (work item = one output row; it writes the output map's
 * zero frame like every map writer), and ReLU over a hidden Linear's vectors (work item = one 8-wide
 * block, all images of the group). Each has its SIMD kernel and a scalar reference; both compute the
 * same values exactly (pmax-based ReLU and max, as the fused kernels do).
 */
import type { MapActivationStep, VectorReluStep } from '../../program.js';
import { constant, layerHeader, stepPrefix } from '../text.js';
import { emitZeroFrame, mapConstants, mapGeometry } from './border.js';
import { BLOCK_BYTES, F32_BYTES, V128_BYTES } from './simd.js';

export function emitMapActivation(step: MapActivationStep): string[] {
  const s = step.schedule;
  const { relu, pool, output } = s.layer;
  const p = stepPrefix(step.index);
  const inMap = mapGeometry(step.input);
  const outMap = mapGeometry(step.output);
  const simd = s.spec.isa === 'wasmsimd';
  const what = [relu ? 'ReLU' : '', pool ? '2×2 max-pool' : ''].filter((x) => x).join(' + ');
  const header = layerHeader(`layer ${step.index}: ${s.layer.id} (${what}) — ${step.kernel}`, [
    `in  ${s.layer.input.c}×${s.layer.input.h}×${s.layer.input.w} (stored NHWC ${inMap.rows}×${inMap.cols}×${inMap.channelStride}) at ${step.input.offset}`,
    `out ${output.c}×${output.h}×${output.w} (stored NHWC ${outMap.rows}×${outMap.cols}×${outMap.channelStride}) at ${step.output.offset}; work item = one output row`,
  ]);
  const window = pool ? 2 : 1;
  const consts = [
    ...mapConstants(p, step.input, step.output),
    constant(`${p}_WINDOW`, window, pool ? 'input pixels per output pixel side (2×2 max-pool)' : 'one input pixel per output pixel', 'i32'),
  ];
  // Input pixel (dy, dx) of output pixel (y, x), channel offset c (bytes).
  const at = (dy: number, dx: number): string => `src + ${dy ? `${p}_IN_ROW + ` : ''}${dx ? `${p}_IN_PIXEL + ` : ''}<usize>c`;
  const vec = (v: string): string => (relu ? `relu4(${v})` : v);
  const one = (v: string): string => (relu ? `relu1(${v})` : v);
  const value = simd
    ? pool
      ? vec(`max4(max4(v128.load(${at(0, 0)}), v128.load(${at(0, 1)})), max4(v128.load(${at(1, 0)}), v128.load(${at(1, 1)})))`)
      : vec(`v128.load(${at(0, 0)})`)
    : pool
    ? one(`max1(max1(load<f32>(${at(0, 0)}), load<f32>(${at(0, 1)})), max1(load<f32>(${at(1, 0)}), load<f32>(${at(1, 1)})))`)
    : one(`load<f32>(${at(0, 0)})`);
  const lane = simd ? V128_BYTES : F32_BYTES;
  return [
    ...header,
    ...consts,
    ...emitZeroFrame(`${p}_zeroFrame`, p, step.output),
    `export function ${step.exportName}(rowStart: i32, rowEnd: i32, worker: i32): void {`,
    `  for (let y = rowStart; y < rowEnd; y++) {`,
    `    for (let x = 0; x < ${output.w}; x++) {`,
    `      const src: usize = ${p}_IN + <usize>(${p}_WINDOW * y + 1) * ${p}_IN_ROW + <usize>(${p}_WINDOW * x + 1) * ${p}_IN_PIXEL;`,
    `      const dst: usize = ${p}_OUT + <usize>(y + 1) * ${p}_OUT_ROW + <usize>(x + 1) * ${p}_OUT_PIXEL;`,
    `      for (let c: usize = 0; c < ${outMap.pixelBytes}; c += ${lane}) ${simd ? 'v128.store' : 'store<f32>'}(dst + c, ${value});`,
    `    }`,
    `  }`,
    `  ${p}_zeroFrame(rowStart, rowEnd);`,
    `}`,
  ];
}

export function emitVectorRelu(step: VectorReluStep): string[] {
  const p = stepPrefix(step.index);
  const s = step.schedule;
  if (step.input.layout.kind !== 'vector' || step.output.layout.kind !== 'vector') throw new Error('codegen: a vector ReLU reads and writes vectors');
  const simd = s.spec.isa === 'wasmsimd';
  return [
    ...layerHeader(`layer ${step.index}: ${s.layer.id} (ReLU over ${s.layer.features}) — ${step.kernel}`, [
      `in vectors at ${step.input.offset}, out at ${step.output.offset}; work item = one 8-feature block for all images`,
    ]),
    constant(`${p}_X`, step.input.offset, 'input vectors'),
    constant(`${p}_Y`, step.output.offset, 'output vectors'),
    constant(`${p}_IMAGE`, step.output.layout.stored * F32_BYTES, 'bytes per vector (input and output alike)'),
    `export function ${step.exportName}(blockStart: i32, blockEnd: i32, worker: i32): void {`,
    `  const images = load<i32>(RUN_PARAMS, RUN_PARAM_IMAGES);`,
    `  for (let n = 0; n < images; n++) {`,
    `    const x: usize = ${p}_X + <usize>n * ${p}_IMAGE, y: usize = ${p}_Y + <usize>n * ${p}_IMAGE;`,
    `    for (let b: usize = <usize>blockStart * ${BLOCK_BYTES}; b < <usize>blockEnd * ${BLOCK_BYTES}; b += ${simd ? V128_BYTES : F32_BYTES}) ${simd ? 'v128.store(y + b, relu4(v128.load(x + b)))' : 'store<f32>(y + b, relu1(load<f32>(x + b)))'};`,
    `  }`,
    `}`,
  ];
}
