// Property-based fuzzing of the safetensors reader (fast-check, fixed seeds: a failure prints the seed
// and the shrunk counterexample). A small valid file for a toy network is damaged — bit flips,
// truncation, a changed header-length field, header JSON mutations (dtype, shape, offsets, duplicate
// and extra keys, entries that are not objects), non-finite data — written to a temp file, opened with
// openSafetensors and every tensor read. Property: it loads, or it throws a one-line VggcError that
// starts with the file's path; never a RangeError/TypeError; and no read ever asks for bytes outside
// the file (fs.readSync is wrapped for the duration of each load).
//
// Cost: one small file write, open and read per case, ≈ 0.1 ms: 10,000 cases per target in seconds.
import * as fs from 'node:fs';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSafetensors } from '../compiler/frontend/safetensors/read.js';
import { f32ToBf16Bits, f32ToF16Bits } from '../compiler/weights/half.js';
import { VggcError } from '../runtime/format/errors.js';
import { TOY_PARAMS } from './helpers.js';

const RUNS = 10_000;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vggc-fuzz-st-'));
const FILE = path.join(tmp, 'fuzz.safetensors');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The toy network of test/weights-errors.test.ts. */
const params = TOY_PARAMS;

type Dtype = 'F32' | 'F16' | 'BF16' | 'F64';
const SIZE: Record<Dtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

interface Layout {
  header: Record<string, unknown>;
  data: Buffer;
}

/** A valid file's header and data, each tensor in `dtypes[i]`, with notebook or torchvision keys. */
function validLayout(dtypes: readonly Dtype[], notebook: boolean, metadata: boolean): Layout {
  const header: Record<string, unknown> = metadata ? { __metadata__: { format: 'pt' } } : {};
  const chunks: Buffer[] = [];
  let offset = 0;
  params.forEach((p, i) => {
    const dtype = dtypes[i % dtypes.length];
    const n = p.shape.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: n }, (_, j) => Math.sin(j + 7 * i) * 0.5);
    const b = Buffer.alloc(n * SIZE[dtype]);
    values.forEach((v, j) => {
      if (dtype === 'F32') b.writeFloatLE(v, 4 * j);
      else if (dtype === 'F64') b.writeDoubleLE(v, 8 * j);
      else b.writeUInt16LE(dtype === 'F16' ? f32ToF16Bits(v) : f32ToBf16Bits(v), 2 * j);
    });
    header[notebook ? p.notebookKey : p.key] = { dtype, shape: [...p.shape], data_offsets: [offset, offset + b.length] };
    offset += b.length;
    chunks.push(b);
  });
  return { header, data: Buffer.concat(chunks) };
}

function serialize(headerText: string, data: Buffer, pad = true): Buffer {
  let json = Buffer.from(headerText, 'utf8');
  if (pad) json = Buffer.concat([json, Buffer.alloc((8 - ((8 + json.length) % 8)) % 8, ' ')]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

// ── arbitraries ────────────────────────────────────────────────────────────────────────────────

const nastyInt = fc.oneof(
  fc.constantFrom(0, 1, 2, 3, 4, 8, 9, 12, 18, 72, -1, -8, 0.5, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e300, -0),
  fc.integer({ min: -4, max: 200 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
const dtypeValue = fc.oneof(
  fc.constantFrom<unknown>('F32', 'F16', 'BF16', 'F64', 'I64', 'U8', 'BOOL', 'F8_E4M3', 'Q4', '', 'f32', 4, null, ['F32'], { F32: 1 }),
  fc.string({ maxLength: 6 }),
);
const shapeValue = fc.oneof(fc.array(nastyInt, { maxLength: 5 }), fc.constantFrom<unknown>([2, 1, 3, 3], [2], [3, 4], [3], [], [0], [18], [1, 2], null, '[2]', 2), fc.jsonValue({ maxDepth: 2 }));
const offsetsValue = fc.oneof(
  fc.tuple(nastyInt, nastyInt).map((t) => [...t]),
  fc.tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 200 })).map((t) => [...t]),
  fc.array(nastyInt, { maxLength: 4 }),
  fc.constantFrom<unknown>(null, [], [0], '0,8', { 0: 0, 1: 8 }),
);

type HeaderEdit =
  | { kind: 'dtype' | 'shape' | 'data_offsets'; entry: number; value: unknown }
  | { kind: 'drop-field'; entry: number; field: 'dtype' | 'shape' | 'data_offsets' }
  | { kind: 'entry'; entry: number; value: unknown }
  | { kind: 'delete'; entry: number }
  | { kind: 'rename'; entry: number; key: string }
  | { kind: 'extra'; key: string; value: unknown }
  | { kind: 'shift'; entry: number; by: number };

const keyName = fc.oneof(
  fc.constantFrom('__metadata__', 'features.0.bias', 'classifier.0.weight', 'conv_backbone.features.0.conv_block.0.bias', 'features.1.running_mean', '__proto__', 'constructor', '', ' ', 'a"b', 'a\\b', 'é'),
  fc.string({ unit: 'binary', maxLength: 12 }),
);
const headerEdit: fc.Arbitrary<HeaderEdit> = fc.oneof(
  fc.record({ kind: fc.constantFrom('dtype' as const), entry: fc.nat(), value: dtypeValue }),
  fc.record({ kind: fc.constantFrom('shape' as const), entry: fc.nat(), value: shapeValue }),
  fc.record({ kind: fc.constantFrom('data_offsets' as const), entry: fc.nat(), value: offsetsValue }),
  fc.record({ kind: fc.constantFrom('drop-field' as const), entry: fc.nat(), field: fc.constantFrom('dtype' as const, 'shape' as const, 'data_offsets' as const) }),
  fc.record({ kind: fc.constantFrom('entry' as const), entry: fc.nat(), value: fc.jsonValue({ maxDepth: 2 }) }),
  fc.record({ kind: fc.constantFrom('delete' as const), entry: fc.nat() }),
  fc.record({ kind: fc.constantFrom('rename' as const), entry: fc.nat(), key: keyName }),
  fc.record({
    kind: fc.constantFrom('extra' as const),
    key: keyName,
    value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.record({ dtype: dtypeValue, shape: shapeValue, data_offsets: offsetsValue })),
  }),
  fc.record({ kind: fc.constantFrom('shift' as const), entry: fc.nat(), by: fc.integer({ min: -80, max: 80 }) }),
);

type ByteEdit =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'header-length'; value: bigint }
  | { kind: 'header-length-delta'; delta: number }
  | { kind: 'append'; bytes: Uint8Array }
  | { kind: 'nonfinite'; at: number; value: number };

const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constantFrom('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('truncate' as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constantFrom('header-length' as const),
      value: fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(0n, 1n, 2n, 7n, 100_000_000n, 100_000_001n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n)),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('header-length-delta' as const), delta: fc.integer({ min: -16, max: 16 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('append' as const), bytes: fc.uint8Array({ maxLength: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constantFrom('nonfinite' as const), at: fc.nat(), value: fc.constantFrom(Number.NaN, Infinity, -Infinity, 3.5e38, 1e-45) }) },
);

function applyHeaderEdits(layout: Layout, edits: readonly HeaderEdit[]): { text: string; data: Buffer } {
  const h = structuredClone(layout.header);
  let duplicate: string | null = null;
  for (const e of edits) {
    const keys = Object.keys(h);
    const key = keys.length ? keys[('entry' in e ? e.entry : 0) % keys.length] : undefined;
    const entry = key !== undefined && h[key] && typeof h[key] === 'object' && !Array.isArray(h[key]) ? (h[key] as Record<string, unknown>) : null;
    switch (e.kind) {
      case 'dtype':
      case 'shape':
      case 'data_offsets':
        if (entry) entry[e.kind] = structuredClone(e.value);
        break;
      case 'drop-field':
        if (entry) delete entry[e.field];
        break;
      case 'entry':
        if (key !== undefined) h[key] = structuredClone(e.value);
        break;
      case 'delete':
        if (key !== undefined) delete h[key];
        break;
      case 'rename':
        if (key !== undefined) {
          const v = h[key];
          delete h[key];
          h[e.key] = v;
        }
        break;
      case 'extra':
        if (e.key in h && duplicate === null) duplicate = JSON.stringify(e.key);
        else h[e.key] = structuredClone(e.value);
        break;
      case 'shift': {
        const o = entry?.data_offsets;
        if (Array.isArray(o)) entry!.data_offsets = o.map((x) => (typeof x === 'number' ? x + e.by : x));
        break;
      }
    }
  }
  let text = JSON.stringify(h);
  // A duplicate key can only exist in the text: repeat an existing key with another value.
  if (duplicate !== null && text.length > 2) text = `{${duplicate}:{"dtype":"F32","shape":[1],"data_offsets":[0,4]},${text.slice(1)}`;
  return { text, data: layout.data };
}

function applyByteEdits(file: Buffer, edits: readonly ByteEdit[]): Buffer {
  let b = Buffer.from(file);
  for (const e of edits) {
    switch (e.kind) {
      case 'flip':
        // Half the flips land in the length field and header, where they matter most.
        if (b.length) b[e.at % 2 ? e.at % b.length : e.at % Math.min(b.length, 8 + 64)] ^= 1 << e.bit;
        break;
      case 'truncate':
        b = b.subarray(0, e.at % (b.length + 1));
        break;
      case 'header-length':
        if (b.length >= 8) b.writeBigUInt64LE(e.value, 0);
        break;
      case 'header-length-delta':
        if (b.length >= 8) b.writeBigUInt64LE(BigInt.asUintN(64, b.readBigUInt64LE(0) + BigInt(e.delta)), 0);
        break;
      case 'append':
        b = Buffer.concat([b, e.bytes]);
        break;
      case 'nonfinite': {
        if (b.length < 12) break;
        const dataStart = Number(b.readBigUInt64LE(0) < BigInt(b.length) ? b.readBigUInt64LE(0) : 0n) + 8;
        const span = b.length - dataStart - 4;
        if (span > 0) b.writeFloatLE(e.value, dataStart + (e.at % span));
        break;
      }
    }
  }
  return b;
}

const layout = fc.record({
  dtypes: fc.array(fc.constantFrom<Dtype>('F32', 'F32', 'F16', 'BF16', 'F64'), { minLength: 1, maxLength: 4 }),
  notebook: fc.boolean(),
  metadata: fc.boolean(),
});

// ── the property ───────────────────────────────────────────────────────────────────────────────

/** Every read is checked against the size of the file being loaded (set per case). */
let guard: { size: number; violations: string[] } | null = null;
const cjsFs = createRequire(import.meta.url)('node:fs') as typeof fs;
const realReadSync = cjsFs.readSync;

beforeAll(() => {
  cjsFs.readSync = function (this: unknown, fd: number, buffer: NodeJS.ArrayBufferView, ...rest: unknown[]) {
    if (guard) {
      // Only the (fd, buffer, offset, length, position) form is used by the reader.
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

function loadBytes(bytes: Buffer): 'ok' | string {
  fs.writeFileSync(FILE, bytes);
  guard = { size: bytes.length, violations: [] };
  try {
    const src = openSafetensors(FILE, params);
    try {
      for (const p of params) {
        const rows = src.readRows(p, 0, p.shape[0]);
        if (rows.length !== p.shape.reduce((a, b) => a * b, 1)) throw new Error(`${p.key}: ${rows.length} values read`);
        // Also row by row, as the packer does.
        for (let r = 0; r < p.shape[0]; r++) src.readRows(p, r, r + 1);
      }
    } finally {
      src.close();
    }
    return 'ok';
  } catch (e) {
    if (!(e instanceof VggcError)) throw new Error(`expected a VggcError, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.stack ?? String(e)}`);
    if (/[\r\n]/.test(e.message)) throw new Error(`message is not one line: ${JSON.stringify(e.message)}`);
    if (!e.message.startsWith(`${FILE}: `)) throw new Error(`message does not start with the file name: ${JSON.stringify(e.message)}`);
    return e.message;
  } finally {
    const v = guard.violations;
    guard = null;
    if (v.length) throw new Error(`read outside the file: ${v[0]}`);
  }
}

describe('fuzz: openSafetensors + readRows', () => {
  it('the read guard sees reads, and the unmutated files load', () => {
    for (const dtypes of [['F32'], ['F16'], ['BF16'], ['F64'], ['F32', 'F16', 'BF16', 'F64']] as Dtype[][]) {
      for (const notebook of [false, true]) {
        const l = validLayout(dtypes, notebook, true);
        expect(loadBytes(serialize(JSON.stringify(l.header), l.data))).toBe('ok');
      }
    }
    // A hand-made out-of-file read is caught by the guard (so its silence below means something).
    fs.writeFileSync(FILE, Buffer.alloc(4));
    guard = { size: 4, violations: [] };
    const fd = fs.openSync(FILE, 'r');
    fs.readSync(fd, Buffer.alloc(8), 0, 8, 0);
    fs.closeSync(fd);
    expect(guard.violations).toHaveLength(1);
    guard = null;
  });

  it(`byte-level damage: bit flips, truncation, header-length changes, appended bytes, NaN/Inf data (${RUNS} cases)`, () => {
    const outcomes = new Map<string, number>();
    fc.assert(
      fc.property(layout, fc.array(byteEdit, { minLength: 1, maxLength: 3 }), ({ dtypes, notebook, metadata }, edits) => {
        const l = validLayout(dtypes, notebook, metadata);
        const r = loadBytes(applyByteEdits(serialize(JSON.stringify(l.header), l.data), edits));
        const k = r === 'ok' ? 'ok' : r.slice(FILE.length + 2, FILE.length + 22);
        outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
      }),
      { numRuns: RUNS, seed: 0x57e501 },
    );
    // The damage reaches several different checks, not one early exit.
    expect(outcomes.size).toBeGreaterThan(8);
  }, 60_000);

  it(`header JSON mutations: dtype, shape, offsets, missing fields, duplicate/extra/renamed keys (${RUNS} cases)`, () => {
    const outcomes = new Map<string, number>();
    fc.assert(
      fc.property(layout, fc.array(headerEdit, { minLength: 1, maxLength: 3 }), fc.boolean(), ({ dtypes, notebook, metadata }, edits, pad) => {
        const { text, data } = applyHeaderEdits(validLayout(dtypes, notebook, metadata), edits);
        const r = loadBytes(serialize(text, data, pad));
        const k = r === 'ok' ? 'ok' : r.slice(FILE.length + 2, FILE.length + 22);
        outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
      }),
      { numRuns: RUNS, seed: 0x57e502 },
    );
    expect(outcomes.size).toBeGreaterThan(8);
  }, 60_000);

  it(`header and byte damage together (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(layout, fc.array(headerEdit, { maxLength: 2 }), fc.array(byteEdit, { maxLength: 2 }), ({ dtypes, notebook, metadata }, hEdits, bEdits) => {
        const { text, data } = applyHeaderEdits(validLayout(dtypes, notebook, metadata), hEdits);
        loadBytes(applyByteEdits(serialize(text, data), bEdits));
      }),
      { numRuns: RUNS, seed: 0x57e503 },
    );
  }, 60_000);
});
