import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNpy, writeNpy } from '../runtime/npy.js';
import { halfToFloat } from './reference/safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'vggc-npy-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A .npy v1.0 file with an arbitrary header, to feed the reader what numpy could write. */
function rawNpy(header: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head.writeUInt16LE(header.length, 8);
  return Buffer.concat([head, Buffer.from(header, 'latin1'), data]);
}

describe('npy', () => {
  it('round-trips float32 arrays of any rank, with numpy-style 64-byte header alignment', () => {
    for (const shape of [[2, 3, 4], [5], [], [1, 0]]) {
      const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i * 0.5 - 3);
      const path = join(dir, `a${shape.join('x')}.npy`);
      writeNpy(path, shape, data);
      expect(readNpy(path)).toEqual({ shape, data });
    }
  });

  it('rejects other dtypes and Fortran order', () => {
    const f8 = join(dir, 'f8.npy');
    writeFileSync(f8, rawNpy("{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n", new Uint8Array(8)));
    expect(() => readNpy(f8)).toThrow(/float32/);
    const fortran = join(dir, 'fortran.npy');
    writeFileSync(fortran, rawNpy("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1), }\n", new Uint8Array(4)));
    expect(() => readNpy(fortran)).toThrow(/Fortran/);
  });

  it('writeNpy checks the shape against the data', () => {
    expect(() => writeNpy(join(dir, 'bad.npy'), [2, 2], new Float32Array(3))).toThrow(/holds 4/);
  });
});

describe('halfToFloat', () => {
  it('decodes normals, subnormals, signed zero and specials', () => {
    expect(halfToFloat(0x3c00)).toBe(1);
    expect(halfToFloat(0xc000)).toBe(-2);
    expect(halfToFloat(0x7bff)).toBe(65504);
    expect(halfToFloat(0x0001)).toBe(2 ** -24);
    expect(Object.is(halfToFloat(0x8000), -0)).toBe(true);
    expect(halfToFloat(0x7c00)).toBe(Infinity);
    expect(halfToFloat(0x7e00)).toBeNaN();
  });
});
