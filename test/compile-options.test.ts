// compileModel called from a program with values the CLI's parsers would have refused: each is a
// one-line VggcError naming the option, before anything is read or written.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileModel, type CompileOptions } from '../compiler/pipeline.js';
import { GOLDEN, rejection, tempDir } from './helpers.js';

const tmp = tempDir('vggc-compile-options-');
const configPath = join(GOLDEN, 'small-rect', 'config.json');

describe('compileModel option checks', () => {
  const cases: [what: string, opts: Record<string, unknown>, message: string][] = [
    ['weightsDtype', { weightsDtype: 'int4' }, 'compileModel: weightsDtype must be one of f32, f16, int8, found "int4"'],
    ['conv', { conv: 'fft' }, 'compileModel: conv must be one of auto, direct, winograd, found "fft"'],
    ['winogradTile', { winogradTile: 'f8x8' }, 'compileModel: winogradTile must be one of auto, f4x4, f5x5, f6x6, found "f8x8"'],
    ['kernels', { kernels: 'avx' }, 'compileModel: kernels must be one of wasmsimd, scalar-ref, found "avx"'],
    ['seed', { seed: -3 }, 'compileModel: seed must be a non-negative integer, found -3'],
    ['seed (a string)', { seed: '3' }, 'compileModel: seed must be a non-negative integer, found "3"'],
    ['inputSize', { inputSize: [64] }, 'compileModel: inputSize must be [height, width], two positive integers, found [64]'],
    ['outputs', { outputs: 'fc1' }, 'compileModel: outputs must be a non-empty list of layer names, found "fc1"'],
    ['outDir missing', { outDir: undefined }, 'compileModel: outDir must be a non-empty path, found undefined'],
    ['configPath', { configPath: 42 }, 'compileModel: configPath must be a non-empty path, found 42'],
  ];
  for (const [what, edit, message] of cases) {
    it(`${what}`, async () => {
      const outDir = join(tmp, what.replace(/\W/g, '_'));
      const opts = { configPath, outDir, ...edit } as unknown as CompileOptions;
      expect(await rejection(compileModel(opts))).toBe(message);
      expect(existsSync(outDir)).toBe(false);
    });
  }
});
