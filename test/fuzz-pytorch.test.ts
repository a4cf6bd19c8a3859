// Property-based fuzzing of the PyTorch checkpoint reader (fast-check, fixed seeds: a failure prints
// the seed and the shrunk counterexample). Small valid checkpoints written by torch itself
// (test/pytorch/write_fuzz_seeds.py: a state_dict, a training checkpoint with Adam state in pickle
// protocol 4, views, the legacy format) are damaged and loaded with readTorchFile; every tensor is
// read whole and row by row, and the structure derived.
//
// - pickles: data.pkl mutated (bit flips, byte and opcode substitutions, inserted opcode snippets —
//   hostile globals, memo references, MARK/STOP/REDUCE/BUILD, huge length fields —, deletions,
//   duplications, truncation) and re-packed with a valid CRC, so the damage reaches the unpickler;
//   the legacy file's pickles mutated in place.
// - zips: the archive torch wrote damaged as bytes: flips and field overwrites near every zip
//   signature (local headers, central directory, zip64 records, end record), deltas on size and
//   offset fields, truncation, inserted and appended bytes.
//
// Property: it loads, or it throws a one-line VggcError that starts with the file's path; never
// another exception type; no read outside the file (fs.readSync is wrapped); each case well under a
// second; and no hostile global ever runs (nothing here could: the marker check is in the torch tests).
import * as fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTorchFile } from '../compiler/frontend/pytorch/checkpoint.js';
import { deriveNetwork } from '../compiler/frontend/pytorch/derive.js';
import { VggcError } from '../runtime/format/errors.js';
import { op, u32, writeZip, type ZipMember } from './pytorch/hand-made.js';
import { PYTHON } from './pytorch/fixtures.js';

const RUNS = 10_000;
const MAX_CASE_MS = 1000;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vggc-fuzz-pth-'));
const FILE = path.join(tmp, 'fuzz.pth');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

// ── seeds, written by torch ────────────────────────────────────────────────────────────────────
interface SeedJson {
  file: string;
  members: { name: string; file: string }[];
  pickleEnd?: number;
}
const written = spawnSync(PYTHON, [new URL('./pytorch/write_fuzz_seeds.py', import.meta.url).pathname, tmp], { encoding: 'utf8', timeout: 120_000 });
if (written.status !== 0) throw new Error(`${PYTHON} write_fuzz_seeds.py failed (Debian's python3-torch is required): ${written.stderr}`);
const seedJson = JSON.parse(fs.readFileSync(path.join(tmp, 'seeds.json'), 'utf8')) as Record<string, SeedJson>;
const zipSeeds = Object.values(seedJson).filter((s) => s.members.length).map((s) => ({
  file: fs.readFileSync(s.file),
  members: s.members.map((m): ZipMember => ({ name: m.name, data: fs.readFileSync(m.file) })),
}));
const legacySeed = (() => {
  const s = Object.values(seedJson).find((x) => x.pickleEnd !== undefined)!;
  return { file: fs.readFileSync(s.file), pickleEnd: s.pickleEnd! };
})();

// ── pickle mutations ───────────────────────────────────────────────────────────────────────────
const nastyU32 = fc.constantFrom(0, 1, 2, 7, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff);
const nastyU64 = nastyU32.map((v) => [...u32(v), ...u32(v === 0 ? 0 : 0xffffffff * (v & 1))]);
const snippet: fc.Arbitrary<number[]> = fc.oneof(
  fc.constantFrom(
    op.global('os', 'system'), op.global('builtins', 'eval'), op.global('torch', 'FloatStorage'), op.global('torch', 'HalfStorage'), op.global('torch', 'LongStorage'),
    op.global('torch._utils', '_rebuild_tensor_v2'), op.global('torch._utils', '_rebuild_parameter'), op.global('collections', 'OrderedDict'),
    op.global('torch', 'Size'), op.global('torch.nn.modules.conv', 'Conv2d'), [0x69, ...Buffer.from('os\nsystem\n')],
    [0x93], [0x94], [0x28], [0x2e], [0x52], [0x62], [0x51], [0x74], [0x85], [0x86], [0x87], [0x7d], [0x75], [0x73], [0x65], [0x61],
    [0x5d], [0x29], [0x4e], [0x88], [0x89], [0x30], [0x31], [0x32], [0x81], [0x80, 5], [0x80, 9], [0x4b, 0], [0x4b, 255],
    [0x28, 0x4b, 1, 0x4b, 2, 0x74], op.unicode('storage'), op.unicode('0'), op.unicode('features.0.weight'),
  ),
  fc.tuple(fc.constantFrom(0x68, 0x71), fc.nat(255)).map(([o, i]) => [o, i]),
  fc.tuple(fc.constantFrom(0x6a, 0x72, 0x58, 0x42, 0x4a), nastyU32).map(([o, v]) => [o, ...u32(v)]),
  fc.tuple(fc.constantFrom(0x95, 0x8d, 0x8e, 0x96), nastyU64).map(([o, v]) => [o, ...v]),
  fc.tuple(fc.constantFrom(0x8a, 0x8c, 0x43, 0x55), fc.nat(255), fc.uint8Array({ maxLength: 12 })).map(([o, n, b]) => [o, n, ...b]),
  fc.tuple(nastyU32).map(([n]) => [0x8b, ...u32(n), 1, 2, 3]),
  fc.uint8Array({ minLength: 1, maxLength: 8 }).map((b) => [...b]),
);

type PickleEdit =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'byte'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'duplicate'; at: number; length: number; to: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'length'; at: number; value: number };
const pickleEdit: fc.Arbitrary<PickleEdit> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.oneof(fc.nat(255), fc.constantFrom(0x28, 0x2e, 0x52, 0x62, 0x51, 0x71, 0x68, 0x63, 0x93, 0x74, 0x75, 0x4b, 0x58)) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: snippet }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 200 }), to: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('length' as const), at: fc.nat(), value: nastyU32 }) },
);

/** Applies edits to bytes [0, end) of `data`, leaving the rest (a legacy file's storages) as it was. */
function mutate(data: Uint8Array, edits: readonly PickleEdit[], end = data.length): Buffer {
  let head = [...data.subarray(0, end)];
  const tail = data.subarray(end);
  for (const e of edits) {
    const len = head.length;
    const at = len ? e.at % len : 0;
    switch (e.kind) {
      case 'flip':
        if (len) head[at] ^= 1 << e.bit;
        break;
      case 'byte':
        if (len) head[at] = e.value;
        break;
      case 'insert':
        head.splice(e.at % (len + 1), 0, ...e.bytes);
        break;
      case 'delete':
        head.splice(at, e.length);
        break;
      case 'duplicate':
        head.splice(e.to % (len + 1), 0, ...head.slice(at, at + e.length));
        break;
      case 'truncate':
        head = head.slice(0, e.at % (len + 1));
        break;
      case 'length':
        if (len >= 4) head.splice(e.at % (len - 3), 4, ...u32(e.value));
        break;
    }
  }
  return Buffer.concat([Buffer.from(head), tail]);
}

// ── zip mutations ──────────────────────────────────────────────────────────────────────────────
const SIGNATURES = [0x04034b50, 0x02014b50, 0x06054b50, 0x06064b50, 0x07064b50, 0x08074b50];
function signatureOffsets(b: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i + 4 <= b.length; i++) if (b[i] === 0x50 && b[i + 1] === 0x4b && SIGNATURES.includes(b.readUInt32LE(i))) out.push(i);
  return out;
}
type ZipEdit =
  | { kind: 'flip'; near: number; offset: number; bit: number }
  | { kind: 'field'; near: number; offset: number; width: 2 | 4 | 8; value: number }
  | { kind: 'delta'; near: number; offset: number; delta: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'append'; bytes: Uint8Array };
const near = fc.nat();
const fieldOffset = fc.oneof(fc.constantFrom(4, 6, 8, 10, 16, 20, 24, 26, 28, 30, 32, 34, 40, 42, 48), fc.integer({ min: 0, max: 60 }));
const zipEdit: fc.Arbitrary<ZipEdit> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('flip' as const), near, offset: fc.integer({ min: -8, max: 80 }), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('field' as const), near, offset: fieldOffset, width: fc.constantFrom<2 | 4 | 8>(2, 4, 8), value: nastyU32 }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('delta' as const), near, offset: fieldOffset, delta: fc.integer({ min: -70, max: 70 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 70 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ maxLength: 40 }) }) },
);

function damageZip(file: Buffer, edits: readonly ZipEdit[]): Buffer {
  let b = Buffer.from(file);
  for (const e of edits) {
    const sigs = signatureOffsets(b);
    // Positions relative to a zip signature: that is where every length and offset field lives.
    const at = (nearIndex: number, offset: number): number => (sigs.length ? sigs[nearIndex % sigs.length] + offset : offset);
    switch (e.kind) {
      case 'flip': {
        const p = at(e.near, e.offset);
        if (p >= 0 && p < b.length) b[p] ^= 1 << e.bit;
        break;
      }
      case 'field': {
        const p = at(e.near, e.offset);
        if (p < 0 || p + e.width > b.length) break;
        if (e.width === 2) b.writeUInt16LE(e.value & 0xffff, p);
        else if (e.width === 4) b.writeUInt32LE(e.value >>> 0, p);
        else b.writeBigUInt64LE(BigInt(e.value) * (e.value & 1 ? 0x100000001n : 1n), p);
        break;
      }
      case 'delta': {
        const p = at(e.near, e.offset);
        if (p >= 0 && p + 4 <= b.length) b.writeUInt32LE((b.readUInt32LE(p) + e.delta) >>> 0, p);
        break;
      }
      case 'truncate':
        b = b.subarray(0, e.at % (b.length + 1));
        break;
      case 'insert': {
        const p = e.at % (b.length + 1);
        b = Buffer.concat([b.subarray(0, p), e.bytes, b.subarray(p)]);
        break;
      }
      case 'append':
        b = Buffer.concat([b, e.bytes]);
        break;
    }
  }
  return b;
}

// ── the property ───────────────────────────────────────────────────────────────────────────────
let guard: { size: number; violations: string[] } | null = null;
const cjsFs = createRequire(import.meta.url)('node:fs') as typeof fs;
const realReadSync = cjsFs.readSync;
beforeAll(() => {
  cjsFs.readSync = function (this: unknown, fd: number, buffer: NodeJS.ArrayBufferView, ...rest: unknown[]) {
    if (guard) {
      const [, length, position] = rest as [number, number, number | bigint | null];
      const pos = Number(position);
      if (!(pos >= 0) || pos + length > guard.size) guard.violations.push(`readSync(position ${String(position)}, length ${length}) on a ${guard.size}-byte file`);
    }
    return (realReadSync as (...a: unknown[]) => number).call(this, fd, buffer, ...rest);
  } as typeof fs.readSync;
  syncBuiltinESMExports();
});
afterAll(() => {
  cjsFs.readSync = realReadSync;
  syncBuiltinESMExports();
});

let slowest = 0;
function load(bytes: Buffer): string {
  fs.writeFileSync(FILE, bytes);
  guard = { size: bytes.length, violations: [] };
  const t0 = performance.now();
  try {
    const f = readTorchFile(FILE);
    try {
      for (const t of f.tensors.values()) {
        const numel = t.shape.reduce((a, b) => a * b, 1);
        if (t.read(0, numel).length !== numel) throw new Error(`${t.origin}: wrong element count`);
        const rows = t.shape[0] ?? 1;
        const row = rows ? numel / rows : 0;
        for (let r = 0; r < rows && row > 0; r++) t.read(r * row, row);
      }
      deriveNetwork(FILE, f.tensors);
    } finally {
      f.close();
    }
    return 'ok';
  } catch (e) {
    if (!(e instanceof VggcError)) throw new Error(`expected a VggcError, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.stack ?? String(e)}`);
    if (/[\r\n]/.test(e.message)) throw new Error(`message is not one line: ${JSON.stringify(e.message)}`);
    if (!e.message.startsWith(`${FILE}: `)) throw new Error(`message does not start with the file name: ${JSON.stringify(e.message)}`);
    return e.message;
  } finally {
    const ms = performance.now() - t0;
    slowest = Math.max(slowest, ms);
    const v = guard.violations;
    guard = null;
    if (v.length) throw new Error(`read outside the file: ${v[0]}`);
    if (ms > MAX_CASE_MS) throw new Error(`one case took ${ms.toFixed(0)} ms`);
  }
}

/** A message's kind: the text after the path with numbers and quoted names blanked, cut short. */
const kindOf = (r: string): string => (r === 'ok' ? 'ok' : r.slice(FILE.length + 2).replace(/"[^"]*"|\d+/g, '_').slice(0, 40));
const repack = (seed: (typeof zipSeeds)[number], edits: readonly PickleEdit[]): Buffer =>
  Buffer.from(writeZip(seed.members.map((m) => (m.name.endsWith('/data.pkl') ? { name: m.name, data: mutate(m.data, edits) } : m))));

describe('fuzz: readTorchFile + read + deriveNetwork', () => {
  it('the unmutated seeds load and derive; the read guard sees reads', () => {
    expect(zipSeeds.length).toBe(3);
    for (const s of zipSeeds) {
      expect(load(s.file)).toBe('ok');
      expect(load(repack(s, []))).toBe('ok');
    }
    expect(load(legacySeed.file)).toBe('ok');
    fs.writeFileSync(FILE, Buffer.alloc(4));
    guard = { size: 4, violations: [] };
    const fd = fs.openSync(FILE, 'r');
    fs.readSync(fd, Buffer.alloc(8), 0, 8, 0);
    fs.closeSync(fd);
    expect(guard.violations).toHaveLength(1);
    guard = null;
  });

  it(`mutated pickles: zip data.pkl re-packed with a valid CRC, and the legacy format's pickles (${RUNS} cases)`, () => {
    const outcomes = new Map<string, number>();
    fc.assert(
      fc.property(fc.nat(3), fc.array(pickleEdit, { minLength: 1, maxLength: 4 }), (seed, edits) => {
        const bytes = seed < 3 ? repack(zipSeeds[seed], edits) : mutate(legacySeed.file, edits, legacySeed.pickleEnd);
        const k = kindOf(load(bytes));
        outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
      }),
      { numRuns: RUNS, seed: 0x9c4e01 },
    );
    // The damage reaches many different checks (and some mutations still load), not one early exit.
    expect(outcomes.size).toBeGreaterThan(30);
    expect(outcomes.get('ok') ?? 0).toBeGreaterThan(50);
    expect([...outcomes.keys()].some((k) => k.startsWith('refuses global'))).toBe(true);
  }, 120_000);

  it(`damaged zip archives: flips, field overwrites and deltas near every signature, truncation, inserted bytes (${RUNS} cases)`, () => {
    const outcomes = new Map<string, number>();
    fc.assert(
      fc.property(fc.nat(2), fc.array(zipEdit, { minLength: 1, maxLength: 3 }), (seed, edits) => {
        const k = kindOf(load(damageZip(zipSeeds[seed].file, edits)));
        outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
      }),
      { numRuns: RUNS, seed: 0x9c4e02 },
    );
    expect(outcomes.size).toBeGreaterThan(20);
    expect([...outcomes.keys()].some((k) => k.startsWith('zip archive: '))).toBe(true);
    expect([...outcomes.keys()].some((k) => k.startsWith('zip entry '))).toBe(true);
  }, 120_000);

  it(`pickle and archive damage together (${RUNS / 5} cases); no case took a second`, () => {
    fc.assert(
      fc.property(fc.nat(2), fc.array(pickleEdit, { maxLength: 2 }), fc.array(zipEdit, { maxLength: 2 }), (seed, p, z) => {
        load(damageZip(repack(zipSeeds[seed], p), z));
      }),
      { numRuns: RUNS / 5, seed: 0x9c4e03 },
    );
    expect(slowest).toBeLessThan(MAX_CASE_MS);
  }, 120_000);
});
