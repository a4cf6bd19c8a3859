/**
 * Layout steps at the two ends of the convolutional part:
 * - pack-input: the user's N·C·H·W floats → padded NHWC (zero border) for the first convolution;
 * - pool-flatten: the last feature map → the classifier's input vector in PyTorch's flatten order
 *   (c, h, w), through torchvision's AdaptiveAvgPool2d (or an adaptive max pool) when the config has
 *   one. Window of output cell i: [floor(i·In/Out), ceil((i+1)·In/Out)), which also covers upsampling
 *   (Out > In).
 * Both move a few hundred KB at most; they are plain scalar loops.
 */
import type { PackInputStep, PoolFlattenStep } from '../../program.js';
import { constant, indent, layerHeader, stepPrefix } from '../text.js';
import { emitZeroFrame, mapGeometry } from './border.js';
import { F32_BYTES } from './simd.js';

export function emitPackInput(step: PackInputStep): string[] {
  const { c, h, w } = step.schedule.input;
  const p = stepPrefix(step.index);
  const out = mapGeometry(step.output);
  return [
    ...layerHeader(`layer ${step.index}: input — ${step.kernel}`, [
      `in  ${c}×${h}×${w} NCHW at ${step.input.offset}; out NHWC ${out.rows}×${out.cols}×${c} with zero frame at ${step.output.offset}`,
      `work item = one input row`,
    ]),
    constant(`${p}_IN`, step.input.offset, 'input, NCHW as the user passes it'),
    constant(`${p}_OUT`, step.output.offset, 'padded NHWC'),
    constant(`${p}_OUT_PIXEL`, out.pixelBytes, 'bytes per pixel'),
    constant(`${p}_OUT_ROW`, out.rowBytes, 'bytes per stored row'),
    constant(`${p}_PLANE`, h * w * F32_BYTES, 'bytes per input channel plane'),
    ...emitZeroFrame(`${p}_zeroFrame`, p, step.output),
    `export function ${step.exportName}(rowStart: i32, rowEnd: i32, worker: i32): void {`,
    `  ${p}_zeroFrame(rowStart, rowEnd);`,
    `  for (let y = rowStart; y < rowEnd; y++) {`,
    `    const row: usize = ${p}_OUT + <usize>(y + 1) * ${p}_OUT_ROW;`,
    `    for (let x = 0; x < ${w}; x++) {`,
    `      for (let ch = 0; ch < ${c}; ch++) {`,
    `        const v = load<f32>(${p}_IN + <usize>ch * ${p}_PLANE + <usize>(y * ${w} + x) * ${F32_BYTES});`,
    `        store<f32>(row + <usize>(x + 1) * ${p}_OUT_PIXEL + <usize>ch * ${F32_BYTES}, v);`,
    `      }`,
    `    }`,
    `  }`,
    `}`,
  ];
}

export function emitPoolFlatten(step: PoolFlattenStep): string[] {
  const s = step.schedule;
  const { c, h, w } = s.layer.input;
  const inMap = mapGeometry(step.input);
  const stride = inMap.channelStride;
  const out = s.layer.flattened;
  const p = stepPrefix(step.index);
  const pool = s.layer.pool;
  const header = layerHeader(`layer ${step.index}: ${pool ? `adaptive ${pool.mode === 'avg' ? 'average' : 'max'} pool ${h}×${w} → ${out.h}×${out.w}, ` : ''}flatten — ${step.kernel}`, [
    `in  ${c}×${h}×${w} (stored NHWC ${inMap.rows}×${inMap.cols}×${stride}) at ${step.input.offset}; out vector[${s.layer.features}] in (c, h, w) order at ${step.output.offset}`,
    `work item = one channel`,
  ]);
  if (step.output.layout.kind !== 'vector') throw new Error('codegen: pool-flatten writes a vector');
  const consts = [
    constant(`${p}_IN`, step.input.offset, 'last feature map, padded NHWC'),
    constant(`${p}_IN_PIXEL`, inMap.pixelBytes, 'bytes per pixel'),
    constant(`${p}_IN_ROW`, inMap.rowBytes, 'bytes per stored row'),
    constant(`${p}_OUT`, step.output.offset, `classifier input vectors, one per image of a batch (up to ${step.output.layout.images})`),
    constant(`${p}_OUT_IMAGE`, step.output.layout.stored * F32_BYTES, 'bytes per image'),
  ];
  const pixel = (yy: string, xx: string): string => `load<f32>(${p}_IN + <usize>(${yy} + 1) * ${p}_IN_ROW + <usize>(${xx} + 1) * ${p}_IN_PIXEL + <usize>ch * ${F32_BYTES})`;
  const window = [
    `const y0 = (oy * ${h}) / ${out.h}, y1 = ((oy + 1) * ${h} + ${out.h - 1}) / ${out.h};`,
    `const x0 = (ox * ${w}) / ${out.w}, x1 = ((ox + 1) * ${w} + ${out.w - 1}) / ${out.w};`,
  ];
  const cell = !pool
    ? [`const value = ${pixel('oy', 'ox')};`]
    : pool.mode === 'avg'
    ? [
        ...window,
        `let sum: f32 = 0;`,
        `for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) sum += ${pixel('yy', 'xx')};`,
        `const value = sum / <f32>((y1 - y0) * (x1 - x0));`,
      ]
    : [
        ...window,
        `let value: f32 = ${pixel('y0', 'x0')};`,
        `for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) value = max1(value, ${pixel('yy', 'xx')});`,
      ];
  return [
    ...header, ...consts,
    `export function ${step.exportName}(channelStart: i32, channelEnd: i32, worker: i32): void {`,
    `  const out: usize = ${p}_OUT + <usize>load<i32>(RUN_PARAMS, RUN_PARAM_IMAGE) * ${p}_OUT_IMAGE; // this image's vector`,
    `  for (let ch = channelStart; ch < channelEnd; ch++) {`,
    `    for (let oy = 0; oy < ${out.h}; oy++) for (let ox = 0; ox < ${out.w}; ox++) {`,
    ...indent(cell, 3),
    `      store<f32>(out + <usize>((ch * ${out.h} + oy) * ${out.w} + ox) * ${F32_BYTES}, value);`,
    `    }`,
    `  }`,
    `}`,
  ];
}
