// A model name and class labels written to break out of the generated code: quotes, newlines, `*/`,
// `//`, backticks, template and script fragments. They must only ever be data: the compiled kernels
// are the same as for a plain name (model.wasm equal byte for byte once its custom sections are
// removed), every line of model.ts that differs is a comment, and model.json gives the strings back
// exactly.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileModel } from '../compiler/pipeline.js';
import { loadModel } from '../runtime/load/node.js';
import { GOLDEN, tempDir } from './helpers.js';

const tmp = tempDir('vggc-hostile-names-');
const base = JSON.parse(readFileSync(join(GOLDEN, 'gray-odd/config.json'), 'utf8'));

const HOSTILE_NAME = 'x"); abort(); // */ /* `${process.exit(1)}` \'\n}\r\nexport function evil(): void { unreachable(); }\n// \u2028\u0000 </script> \\';
const HOSTILE_LABELS = ['"); abort(); //', '*/ unreachable(); /*', '`${globalThis.x = 1}`', "line\nbreak\r\nand 'quotes'", '\\u0000 // \u2028 é 🐱'];

async function compileNamed(dirName: string, name: string, labels: string[] | null): Promise<string> {
  const configPath = join(tmp, `${dirName}.json`);
  writeFileSync(configPath, JSON.stringify({ ...base, name, labels }));
  const outDir = join(tmp, dirName);
  await compileModel({ configPath, weightsPath: join(GOLDEN, 'gray-odd/weights.safetensors'), outDir, kernels: 'wasmsimd' });
  return outDir;
}

/** The module without its custom sections (id 0): type, import, function, export, code, … sections. */
function withoutCustomSections(wasm: Uint8Array): Buffer {
  expect(Buffer.from(wasm.subarray(0, 8)).toString('hex')).toBe('0061736d01000000');
  const kept: Uint8Array[] = [wasm.subarray(0, 8)];
  let i = 8;
  while (i < wasm.length) {
    const start = i;
    const id = wasm[i++];
    let size = 0;
    for (let shift = 0; ; shift += 7) {
      const b = wasm[i++];
      size |= (b & 0x7f) << shift;
      if (!(b & 0x80)) break;
    }
    i += size;
    if (id !== 0) kept.push(wasm.subarray(start, i));
  }
  expect(i).toBe(wasm.length);
  return Buffer.concat(kept);
}

describe('hostile model name and labels', () => {
  let plain: string;
  let hostile: string;

  beforeAll(async () => {
    expect(HOSTILE_NAME.length).toBeLessThanOrEqual(200);
    plain = await compileNamed('plain', 'plain', ['a', 'b', 'c', 'd', 'e']);
    hostile = await compileNamed('hostile', HOSTILE_NAME, HOSTILE_LABELS);
  });

  it('compile to the same kernels: model.wasm and model-relaxed.wasm equal once custom sections are removed', () => {
    for (const f of ['model.wasm', 'model-relaxed.wasm']) {
      const a = withoutCustomSections(readFileSync(join(plain, f)));
      const b = withoutCustomSections(readFileSync(join(hostile, f)));
      expect(b.length, f).toBe(a.length);
      expect(b.equals(a), f).toBe(true);
    }
    // The exports (the layer functions) are the same too.
    const exportsOf = (d: string) => WebAssembly.Module.exports(new WebAssembly.Module(readFileSync(join(d, 'model.wasm'))));
    expect(exportsOf(hostile)).toEqual(exportsOf(plain));
  });

  it('model.ts differs only in comment lines, none of which ends a block comment or holds a raw line break', () => {
    const a = readFileSync(join(plain, 'model.ts'), 'utf8').split('\n');
    const b = readFileSync(join(hostile, 'model.ts'), 'utf8').split('\n');
    expect(b.length).toBe(a.length);
    const differing = b.filter((line, i) => line !== a[i]);
    for (const line of differing) {
      expect(line.trimStart().startsWith('//'), line).toBe(true);
      expect(line).not.toMatch(/[\r\u2028\u2029\0]/);
    }
    // No line of the hostile model.ts is code that the plain one does not have.
    for (const line of b) if (!a.includes(line)) expect(line.trimStart().startsWith('//'), line).toBe(true);
    // The name does appear, defused, in the header comment.
    expect(differing.some((line) => line.includes('abort(); //'))).toBe(true);
  });

  it('model.json returns the name and labels exactly', () => {
    const m = JSON.parse(readFileSync(join(hostile, 'model.json'), 'utf8'));
    expect(m.name).toBe(HOSTILE_NAME);
    expect(m.labels).toEqual(HOSTILE_LABELS);
    expect(m.config.name).toBe(HOSTILE_NAME);
  });

  it('the hostile model loads and gives bit-identical logits to the plain one', async () => {
    const x = new Float32Array(37 * 45).map((_, i) => Math.sin(i) * 0.5);
    const run = async (d: string) => {
      const m = await loadModel(d, { threads: 1, build: 'deterministic' });
      try {
        return Array.from(await m.infer(x));
      } finally {
        m.dispose();
      }
    };
    expect(await run(hostile)).toEqual(await run(plain));
  });
});
