/** Argument parsers and option sets the commands share. */
import { InvalidArgumentError, Option } from 'commander';
import { PREPROCESSING_PRESETS } from '../frontend/config/preprocessing.js';
import { BUILD_CHOICES, DEFAULT_BUILD } from '../../runtime/load/build.js';

/** `64x64` → [64, 64] (height × width). */
export function parseInputSize(v: string): [number, number] {
  const m = /^(\d+)[x×](\d+)$/i.exec(v.trim());
  const size = m ? [Number(m[1]), Number(m[2])] : [];
  if (!m || !size.every((n) => Number.isSafeInteger(n) && n >= 1)) throw new InvalidArgumentError('expected HEIGHTxWIDTH, e.g. 224x224');
  return [size[0], size[1]];
}

export function parsePositiveInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

export function parseNonNegativeInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

/** `--shard-size`: bytes, or with a KiB / MiB / GiB suffix (`16MiB`, `512 KiB`); 0 = one file. */
export function parseByteSize(v: string): number {
  const m = /^(\d+)\s*(B|KiB|MiB|GiB)?$/i.exec(v.trim());
  const unit = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 }[(m?.[2] ?? 'b').toLowerCase() as 'b'];
  const n = m ? Number(m[1]) * unit : NaN;
  if (!m || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a size in bytes, or with KiB or MiB, e.g. 16MiB, 4194304, 0');
  return n;
}

/** `relu4_3,fc7` → ['relu4_3', 'fc7']. */
export function parseNames(v: string): string[] {
  const names = v.split(',').map((s) => s.trim());
  if (names.some((n) => n.length === 0)) throw new InvalidArgumentError('expected layer names separated by commas, e.g. relu4_3,fc7');
  return names;
}

/** `--build` of run, predict, embed, distance and bench: the runtime's choices and default (runtime/load/build.ts). */
export function buildOption(): Option {
  return new Option('--build <build>', 'wasm build: deterministic (the same bits on every engine), relaxed (fused multiply-add; an error where unsupported), fastest = relaxed where supported (auto is its old name)')
    .choices([...BUILD_CHOICES])
    .default(DEFAULT_BUILD);
}

/** What a model file implies, overridable: the options compile and summary share. */
export const modelOptions = (): Option[] => [
  new Option('--input-size <HxW>', 'input size to compile for, e.g. 64x64 (default: the model\'s own, else 224x224)').argParser(parseInputSize),
  new Option('--preprocessing <convention>', 'how images are prepared: torch (RGB, /255, ImageNet mean/std), caffe (BGR, 0-255, ImageNet means; Keras VGG) or tf (RGB, [-1, 1]); default: what the model implies').choices(PREPROCESSING_PRESETS),
  new Option('--outputs <names>', 'named outputs, e.g. relu4_3,fc7 (torchvision, notebook, conventional or Keras layer names; vggc summary lists them); layers after the last are not compiled').argParser(parseNames),
  new Option('--output-layout <layout>', 'maps returned as nchw (PyTorch\'s) or nhwc (TF.js\'s)').choices(['nchw', 'nhwc']),
];

export interface ModelOptionValues {
  readonly inputSize?: [number, number];
  readonly preprocessing?: (typeof PREPROCESSING_PRESETS)[number];
  readonly outputs?: string[];
  readonly outputLayout?: 'nchw' | 'nhwc';
}
