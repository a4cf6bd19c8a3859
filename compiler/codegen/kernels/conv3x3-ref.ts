/**
 * The scalar reference of the direct 3×3 convolution (conv3x3.ts): the textbook loops over the same
 * memory and weights, one output value at a time, in the same summation order (ky, kx, ci), so the
 * SIMD kernel must match it to the last bit. `--kernels scalar-ref` compiles a model with these.
 * OUT_BLOCK is the module-level constant codegen/module.ts emits.
 */
import { indent } from '../text.js';
import type { ConvGeometry } from './conv3x3.js';
import { BLOCK_BYTES, F32_BYTES } from './simd.js';

export function emitConvReference(g: ConvGeometry): string[] {
  const p = g.p;
  const window = g.pool ? 2 : 1;
  const weight = `${p}_W + <usize>(co / OUT_BLOCK) * ${p}_W_BLOCK + <usize>((ky * 3 + kx) * ${g.cin} + ci) * ${BLOCK_BYTES} + <usize>(co % OUT_BLOCK) * ${F32_BYTES}`;
  return [
    `export function ${g.fn}(rowStart: i32, rowEnd: i32, worker: i32): void {`,
    `  for (let y = rowStart; y < rowEnd; y++) {`,
    `    for (let x = 0; x < ${g.ow}; x++) {`,
    `      const out: usize = ${p}_OUT + <usize>(y + 1) * ${p}_OUT_ROW + <usize>(x + 1) * ${p}_OUT_PIXEL;`,
    `      for (let co = 0; co < ${g.cout}; co++) {`,
    `        let best: f32 = <f32>-Infinity;`,
    `        for (let dy = 0; dy < ${window}; dy++) for (let dx = 0; dx < ${window}; dx++) { // the ${window}×${window} pool window`,
    `          const cy = y * ${window} + dy, cx = x * ${window} + dx; // conv output pixel`,
    `          let sum: f32 = 0;`,
    `          for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) for (let ci = 0; ci < ${g.cin}; ci++) {`,
    `            const v = load<f32>(${p}_IN + <usize>(cy + ky) * ${p}_IN_ROW + <usize>(cx + kx) * ${p}_IN_PIXEL + <usize>ci * ${F32_BYTES});`,
    `            const wt = load<f32>(${weight});`,
    `            sum += v * wt;`,
    `          }`,
    `          best = max1(best, sum);`,
    `        }`,
    `        store<f32>(out + <usize>co * ${F32_BYTES}, ${g.relu ? 'relu1(' : '('}best + load<f32>(${p}_B + <usize>co * ${F32_BYTES})));`,
    `      }`,
    `      for (let co = ${g.cout}; co < ${g.coutStride}; co++) store<f32>(out + <usize>co * ${F32_BYTES}, 0); // padding channels`,
    `    }`,
    `  }`,
    ...indent([`${p}_zeroFrame(rowStart, rowEnd);`]),
    `}`,
  ];
}

