/**
 * The scalar reference of the fully-connected kernel (linear.ts): one dot product per output feature
 * and image, in input order, over the same packed weights (f16 widened by the format's definition in
 * half1, int8 unscaled then × the feature's scale), so the SIMD kernel can be tested against it.
 * OUT_BLOCK, RUN_PARAMS and RUN_PARAM_IMAGES are module-level constants (codegen/module.ts).
 */
import type { LinearStep } from '../../program.js';
import { ELEMENT_BYTES, OUT_BLOCK, type WeightsDtype } from '../../weights/layout.js';
import { stepPrefix } from '../text.js';
import { F32_BYTES } from './simd.js';

/** Scalar load of the weight element at byte address `addr`, as f32 (int8: unscaled). */
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

export function emitLinearReference(step: LinearStep, dtype: WeightsDtype): string[] {
  const p = stepPrefix(step.index);
  const { linear, relu } = step.schedule.layer;
  const element = ELEMENT_BYTES[dtype];
  const weight = `${p}_W + <usize>(o / OUT_BLOCK) * ${p}_W_BLOCK + <usize>i * ${element * OUT_BLOCK} + <usize>(o % OUT_BLOCK) * ${element}`;
  const value = `sum + load<f32>(${p}_B + <usize>o * ${F32_BYTES})`;
  return [
    `export function ${step.exportName}(blockStart: i32, blockEnd: i32, worker: i32): void {`,
    `  const images = load<i32>(RUN_PARAMS, RUN_PARAM_IMAGES);`,
    `  for (let n = 0; n < images; n++) {`,
    `    const x: usize = ${p}_X + <usize>n * ${p}_X_IMAGE, y: usize = ${p}_Y + <usize>n * ${p}_Y_IMAGE;`,
    `    for (let o = blockStart * OUT_BLOCK; o < blockEnd * OUT_BLOCK; o++) {`,
    `      if (o >= ${linear.outFeatures}) { store<f32>(y + <usize>o * ${F32_BYTES}, 0); continue; } // padding feature`,
    `      let sum: f32 = 0;`,
    `      for (let i = 0; i < ${linear.inFeatures}; i++) {`,
    `        sum += load<f32>(x + <usize>i * ${F32_BYTES}) * ${loadWeight1(dtype, weight)};`,
    `      }`,
    ...(step.scale ? [`      sum *= load<f32>(${p}_S + <usize>o * ${F32_BYTES});`] : []),
    `      store<f32>(y + <usize>o * ${F32_BYTES}, ${relu ? `relu1(${value})` : value});`,
    `    }`,
    `  }`,
    `}`,
  ];
}
