/**
 * What the model applies to its last layer's output (a Keras head's Dense(k, softmax) or sigmoid),
 * per image of the group: softmax = exp(x − max) / Σ exp(x − max), sigmoid = 1 / (1 + exp(−x)).
 * exp is vggc's own (assembly/vggc-common.ts, exp64: range reduction and a polynomial in f64, rounded
 * to f32 once), so the result is the same bits on every engine — a JavaScript engine's Math.exp is not.
 * A few thousand values per image: plain scalar loops. Work item = one image of the group; items past
 * the group's image count do nothing.
 */
import type { OutputActivationStep } from '../../program.js';
import { constant, layerHeader, stepPrefix } from '../text.js';
import { F32_BYTES } from './simd.js';

export function emitOutputActivation(step: OutputActivationStep): string[] {
  const p = stepPrefix(step.index);
  const { fn, features } = step.schedule.layer.activation;
  if (step.input.layout.kind !== 'vector' || step.output.layout.kind !== 'vector') throw new Error('codegen: an output activation reads and writes vectors');
  const header = layerHeader(`layer ${step.index}: ${fn} — ${step.kernel}`, [
    `in  vector[${features}] per image at ${step.input.offset}; out vector[${features}] per image at ${step.output.offset}; up to ${step.output.layout.images} images`,
    `work item = one image of the group`,
  ]);
  const consts = [
    constant(`${p}_X`, step.input.offset, 'the last layer\'s outputs'),
    constant(`${p}_X_IMAGE`, step.input.layout.stored * F32_BYTES, 'bytes per input vector'),
    constant(`${p}_Y`, step.output.offset, 'the model\'s outputs'),
    constant(`${p}_Y_IMAGE`, step.output.layout.stored * F32_BYTES, 'bytes per output vector'),
    constant(`${p}_N`, features, 'values per image', 'i32'),
  ];
  const at = (base: string): string => `${base} + <usize>i * ${F32_BYTES}`;
  const body =
    fn === 'softmax'
      ? [
          `    let top: f32 = load<f32>(x);`,
          `    for (let i = 1; i < ${p}_N; i++) top = max1(top, load<f32>(${at('x')}));`,
          `    let sum: f64 = 0;`,
          `    for (let i = 0; i < ${p}_N; i++) sum += exp64(<f64>(load<f32>(${at('x')}) - top));`,
          `    for (let i = 0; i < ${p}_N; i++) store<f32>(${at('y')}, <f32>(exp64(<f64>(load<f32>(${at('x')}) - top)) / sum));`,
        ]
      : [`    for (let i = 0; i < ${p}_N; i++) store<f32>(${at('y')}, <f32>(1 / (1 + exp64(-<f64>load<f32>(${at('x')})))));`];
  return [
    ...header,
    ...consts,
    `export function ${step.exportName}(itemStart: i32, itemEnd: i32, worker: i32): void {`,
    `  const images = load<i32>(RUN_PARAMS, RUN_PARAM_IMAGES);`,
    `  for (let n = itemStart; n < min(itemEnd, images); n++) {`,
    `    const x: usize = ${p}_X + <usize>n * ${p}_X_IMAGE, y: usize = ${p}_Y + <usize>n * ${p}_Y_IMAGE;`,
    ...body,
    `  }`,
    `}`,
  ];
}
