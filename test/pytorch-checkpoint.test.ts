/**
 * The PyTorch checkpoint reader against files torch 1.13 itself wrote (test/pytorch/write_checkpoints.py):
 * zip and legacy formats, float32/16, bfloat16, float64, views (offsets, transposed and channels-last
 * strides, shared storages), DataParallel/torch.compile prefixes, training checkpoints, heads of
 * several shapes, the seed notebook's layout; whole pickled models, TorchScript and hostile pickles
 * refused without running anything. Every tensor must equal what torch saved, bit for bit after the
 * dtype's own rounding, and derive.ts must find the structure the modules themselves have.
 */
import * as fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { basename } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readTorchFile } from '../compiler/frontend/pytorch/checkpoint.js';
import { deriveNetwork } from '../compiler/frontend/pytorch/derive.js';
import { errorOf } from './helpers.js';
import { readF32, writeCheckpoints, type Case } from './pytorch/fixtures.js';

const fx = writeCheckpoints();
afterAll(() => fs.rmSync(fx.dir, { recursive: true, force: true }));
const entries = Object.entries(fx.cases);
const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

it('the fixture writer produced every kind of case', () => {
  const names = Object.keys(fx.cases);
  for (const n of ['tv', 'tv-legacy', 'bn', 'f16', 'bf16', 'f64', 'views', 'views-legacy', 'ddp', 'compiled', 'ckpt-state_dict', 'notebook', 'hostile-os-system', 'whole-model']) {
    expect(names).toContain(n);
  }
  expect(entries.filter(([, c]) => c.tensors).length).toBeGreaterThan(30);
  expect(entries.filter(([, c]) => c.error).length).toBeGreaterThan(10);
});

describe.each(entries.filter(([, c]) => c.tensors))('%s', (_name, c: Case) => {
  it('every tensor equals what torch saved, in file order, under its unprefixed key', () => {
    const values = readF32(c.values!);
    const f = readTorchFile(c.file);
    try {
      expect([...f.tensors.keys()]).toEqual(c.tensors!.map((t) => t.key));
      expect(f.format).toBe(c.format);
      for (const t of c.tensors!) {
        const st = f.tensors.get(t.key)!;
        expect(st.shape, t.key).toEqual(t.shape);
        expect(st.dtype, t.key).toBe(t.dtype);
        if (t.offset === undefined) {
          expect(errorOf(() => st.read(0, 1))).toBe(`${c.file}: tensor ${t.key} is ${t.dtype}; vggc reads float32, float16, bfloat16 and float64 tensors only`);
          continue;
        }
        const expected = values.subarray(t.offset, t.offset + t.count!);
        // Exact: compare the float32 bit patterns.
        expect(Buffer.from(st.read(0, t.count!).buffer).equals(Buffer.from(expected.slice().buffer)), t.key).toBe(true);
        // Pieces: single rows, and ranges that cross rows at odd places.
        const rows = t.shape[0] ?? 1;
        const row = t.count! / Math.max(1, rows);
        for (const [start, count] of [[0, row], [(rows - 1) * row, row], [Math.floor(t.count! / 3), Math.ceil(t.count! / 3)], [t.count! - 1, 1], [1, t.count! - 2]]) {
          if (count <= 0 || start < 0 || start + count > t.count!) continue;
          expect(Array.from(st.read(start, count)), `${t.key} [${start}, +${count})`).toEqual(Array.from(expected.subarray(start, start + count)));
        }
      }
    } finally {
      f.close();
    }
  });

  if (c.network) {
    const net = c.network;
    it(`derives blocks ${JSON.stringify(net.blocks)}, head ${JSON.stringify(net.linears)}`, () => {
      const f = readTorchFile(c.file);
      try {
        const d = deriveNetwork(c.file, f.tensors);
        expect(d.name).toBe(basename(c.file, '.pth'));
        expect(d.source).toBe(c.file);
        expect(d.blocks).toEqual(net.blocks);
        expect(d.convs.map((cv) => cv.batchNorm !== null)).toEqual(net.batchNorm);
        expect(d.linears.map((l) => [l.weight.shape[0], l.weight.shape[1], l.relu])).toEqual(net.linears);
        expect(d.headPool).toEqual(net.headPool === null ? null : { kind: 'avg', size: net.headPool });
        expect(d.inputSize).toEqual(net.inputSize);
        expect(d.finalActivation).toBe('none');
        expect(d.preprocessing).toBeNull();
        // The tensors it hands on are the file's, in network order.
        expect(d.convs.every((cv) => cv.weight.shape.length === 4 && cv.bias !== null)).toBe(true);
        for (const cv of d.convs) if (cv.batchNorm) expect(cv.batchNorm.runningVar.origin).toMatch(/running_var$/);
        expect(d.convs.at(-1)!.weight).toBe([...f.tensors.values()].filter((t) => t.shape.length === 4).at(-1));
      } finally {
        f.close();
      }
    });
  }

  if (c.deriveError) {
    it('derive refuses it naming the tensor', () => {
      const f = readTorchFile(c.file);
      try {
        expect(errorOf(() => deriveNetwork(c.file, f.tensors))).toMatch(new RegExp(`^${escape(c.file)}: ${c.deriveError}`));
      } finally {
        f.close();
      }
    });
  }
});

describe.each(entries.filter(([, c]) => c.error))('%s', (_name, c: Case) => {
  it('is refused with one line naming the reason, and nothing ran', () => {
    expect(errorOf(() => readTorchFile(c.file))).toMatch(new RegExp(`^${escape(c.file)}: ${c.error}`));
    expect(fs.existsSync(fx.marker)).toBe(false);
  });
});

describe('bounded reading', () => {
  // Counts the bytes fs.readSync delivers (the reader's only way to read).
  const cjsFs = createRequire(import.meta.url)('node:fs') as typeof fs;
  const realReadSync = cjsFs.readSync;
  let bytesRead = 0;
  const counting = (fn: () => void): number => {
    bytesRead = 0;
    cjsFs.readSync = function (this: unknown, ...args: unknown[]) {
      const n = (realReadSync as (...a: unknown[]) => number).apply(this, args);
      bytesRead += n;
      return n;
    } as typeof fs.readSync;
    syncBuiltinESMExports();
    try {
      fn();
    } finally {
      cjsFs.readSync = realReadSync;
      syncBuiltinESMExports();
    }
    return bytesRead;
  };

  it.each(['big', 'big-legacy'])('%s: opening reads the directory and pickle only; a row read reads that row', (name) => {
    const file = fx.cases[name].file;
    const size = fs.statSync(file).size;
    expect(size).toBeGreaterThan(6_000_000);
    let f!: ReturnType<typeof readTorchFile>;
    expect(counting(() => (f = readTorchFile(file)))).toBeLessThan(200_000);
    try {
      const w = f.tensors.get('classifier.0.weight')!;
      expect(w.shape).toEqual([2048, 784]);
      expect(counting(() => w.read(1000 * 784, 784))).toBe(784 * 4);
      expect(counting(() => w.read(5, 3))).toBe(12);
    } finally {
      f.close();
    }
  });

  it('a row of a transposed matrix reads a few elements per read, not the matrix; the whole matrix is one read', () => {
    const f = readTorchFile(fx.cases['big-transposed'].file);
    try {
      const w = f.tensors.get('classifier.0.weight')!; // stored transposed: strides (1, 2048)
      const [rows, cols] = w.shape;
      const whole = w.read(0, rows * cols);
      expect(counting(() => w.read(cols * 7, cols))).toBe(cols * 4);
      expect(counting(() => w.read(0, rows * cols))).toBe(rows * cols * 4);
      expect(Array.from(w.read(cols * 7, cols))).toEqual(Array.from(whole.subarray(cols * 7, cols * 8)));
    } finally {
      f.close();
    }
  });
});
