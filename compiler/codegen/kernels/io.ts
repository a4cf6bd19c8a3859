/**
 * Layout steps at the two ends of the convolutional part:
 * - pack-input: the user's N·C·H·W floats → padded NHWC (zero border) for the first convolution;
 * - pool-flatten: the last feature map → the classifier's input vector in PyTorch's flatten order
 *   (c, h, w), through torchvision's AdaptiveAvgPool2d when the config has one. Window of output
 *   cell i: [floor(i·In/Out), ceil((i+1)·In/Out)), which also covers upsampling (Out > In).
 * Both move a few hundred KB at most; they are plain scalar loops.
 */
import type { PackInputSchedule, PoolFlattenSchedule } from '../../schedule/schedule.js';
import { RUN_PARAMS, type PlannedStep } from '../../plan/plan.js';
import { constant, indent, layerHeader } from '../text.js';
import { emitZeroFrame, mapGeometry } from './border.js';

export function emitPackInput(step: PlannedStep): string[] {
  const s = step.schedule as PackInputSchedule;
  const { c, h, w } = s.input;
  const p = `L${String(step.index).padStart(2, '0')}`;
  const out = mapGeometry(step.output);
  return [
    ...layerHeader(`layer ${step.index}: input — ${s.kernel}`, [
      `in  ${c}×${h}×${w} NCHW at ${step.input.offset}; out NHWC ${out.rows}×${out.cols}×${c} with zero frame at ${step.output.offset}`,
      `work item = one input row`,
    ]),
    constant(`${p}_IN`, step.input.offset, 'input, NCHW as the user passes it'),
    constant(`${p}_OUT`, step.output.offset, 'padded NHWC'),
    constant(`${p}_OUT_PIXEL`, c * 4, 'bytes per pixel'),
    constant(`${p}_OUT_ROW`, out.rowBytes, 'bytes per stored row'),
    constant(`${p}_PLANE`, h * w * 4, 'bytes per input channel plane'),
    ...emitZeroFrame(`${p}_zeroFrame`, p, step.output),
    `export function ${step.exportName}(rowStart: i32, rowEnd: i32, worker: i32): void {`,
    `  ${p}_zeroFrame(rowStart, rowEnd);`,
    `  for (let y = rowStart; y < rowEnd; y++) {`,
    `    const row: usize = ${p}_OUT + <usize>(y + 1) * ${p}_OUT_ROW;`,
    `    for (let x = 0; x < ${w}; x++) {`,
    `      for (let ch = 0; ch < ${c}; ch++) {`,
    `        const v = load<f32>(${p}_IN + <usize>ch * ${p}_PLANE + <usize>(y * ${w} + x) * 4);`,
    `        store<f32>(row + <usize>(x + 1) * ${p}_OUT_PIXEL + <usize>ch * 4, v);`,
    `      }`,
    `    }`,
    `  }`,
    `}`,
  ];
}

export function emitPoolFlatten(step: PlannedStep): string[] {
  const s = step.schedule as PoolFlattenSchedule;
  if (step.input.layout.kind !== 'nhwc-pad1') throw new Error('codegen: pool-flatten expects a padded NHWC map');
  const { c, h, w } = s.step.input;
  const stride = step.input.layout.channelStride;
  const inMap = mapGeometry(step.input);
  const out = s.step.flattened;
  const p = `L${String(step.index).padStart(2, '0')}`;
  const header = layerHeader(`layer ${step.index}: ${s.step.avgPool ? `adaptive average pool ${h}×${w} → ${out.h}×${out.w}, ` : ''}flatten — ${s.kernel}`, [
    `in  ${c}×${h}×${w} (stored NHWC ${inMap.rows}×${inMap.cols}×${stride}) at ${step.input.offset}; out vector[${s.step.features}] in (c, h, w) order at ${step.output.offset}`,
    `work item = one channel`,
  ]);
  if (step.output.layout.kind !== 'vector') throw new Error('codegen: pool-flatten writes a vector');
  const consts = [
    constant(`${p}_IN`, step.input.offset, 'last feature map, padded NHWC'),
    constant(`${p}_IN_PIXEL`, stride * 4, 'bytes per pixel'),
    constant(`${p}_IN_ROW`, inMap.rowBytes, 'bytes per stored row'),
    constant(`${p}_OUT`, step.output.offset, `classifier input vectors, one per image of a batch (up to ${step.output.layout.images})`),
    constant(`${p}_OUT_IMAGE`, step.output.layout.stored * 4, 'bytes per image'),
    constant(`${p}_PARAMS`, RUN_PARAMS, 'run parameters: +0 image index'),
  ];
  const pixel = (yy: string, xx: string): string => `load<f32>(${p}_IN + <usize>(${yy} + 1) * ${p}_IN_ROW + <usize>(${xx} + 1) * ${p}_IN_PIXEL + <usize>ch * 4)`;
  const cell = s.step.avgPool
    ? [
        `const y0 = (oy * ${h}) / ${out.h}, y1 = ((oy + 1) * ${h} + ${out.h - 1}) / ${out.h};`,
        `const x0 = (ox * ${w}) / ${out.w}, x1 = ((ox + 1) * ${w} + ${out.w - 1}) / ${out.w};`,
        `let sum: f32 = 0;`,
        `for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) sum += ${pixel('yy', 'xx')};`,
        `const value = sum / <f32>((y1 - y0) * (x1 - x0));`,
      ]
    : [`const value = ${pixel('oy', 'ox')};`];
  return [
    ...header, ...consts,
    `export function ${step.exportName}(channelStart: i32, channelEnd: i32, worker: i32): void {`,
    `  const out: usize = ${p}_OUT + <usize>load<i32>(${p}_PARAMS) * ${p}_OUT_IMAGE; // this image's vector`,
    `  for (let ch = channelStart; ch < channelEnd; ch++) {`,
    `    for (let oy = 0; oy < ${out.h}; oy++) for (let ox = 0; ox < ${out.w}; ox++) {`,
    ...indent(cell, 3),
    `      store<f32>(out + <usize>((ch * ${out.h} + oy) * ${out.w} + ox) * 4, value);`,
    `    }`,
    `  }`,
    `}`,
  ];
}
