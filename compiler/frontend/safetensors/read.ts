/**
 * Reads parameters from a .safetensors file: 8-byte little-endian header length, a JSON header
 * `{ key: { dtype, shape, data_offsets: [begin, end] }, __metadata__?: {...} }`, then the data region
 * (offsets are relative to its start). Only the header is read when the file is opened; rows are read
 * on demand with positioned reads, so a 500 MB checkpoint never sits in memory.
 *
 * The file is checked completely against the config's parameter list before any row is read, so
 * every mistake (wrong network, truncated download, hand-edited header) is one clear error up front.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { VggcError } from '../../errors.js';
import type { ParamTensor } from '../../graph/graph.js';
import { decodeFloats, FLOAT_STORAGE_BYTES, type FloatStorage } from '../../weights/half.js';
import type { WeightSource } from '../../weights/source.js';
import type { StoredTensor } from '../imported.js';

/** The safetensors reference implementation refuses headers above this size; so do we. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Bytes per element of the dtypes vggc converts to float32. */
const READABLE: Record<string, number> = FLOAT_STORAGE_BYTES;
/** The rest of the safetensors dtypes: recognised only to give a better message. */
const OTHER_DTYPES = new Set([
  'BOOL', 'U8', 'I8', 'U16', 'I16', 'U32', 'I32', 'U64', 'I64',
  'F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F6_E2M3', 'F6_E3M2', 'F4', 'C64',
]);

interface Entry {
  readonly key: string;
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly begin: number;
  readonly end: number;
}

export interface SafetensorsOptions {
  /** Load NaN/±Inf values instead of rejecting them. */
  readonly allowNonfinite?: boolean;
  /** Keys that may be present and are skipped (BatchNorm's num_batches_tracked, stored as I64). */
  readonly ignoredKeys?: readonly string[];
}

export function openSafetensors(path: string, params: readonly ParamTensor[], opts: SafetensorsOptions = {}): WeightSource {
  const ignored = new Set(opts.ignoredKeys ?? []);
  return withHeader(path, (key) => ignored.has(key), (fd, entries, fail) => makeSource(path, fd, matchParams(entries, params, fail), opts.allowNonfinite ?? false, fail));
}

/**
 * Every float tensor of the file as a StoredTensor, for a .safetensors compiled with no config (the
 * network is derived from its keys, as for a PyTorch checkpoint). Non-float tensors (a BatchNorm's
 * I64 num_batches_tracked) are left out. `close` closes the file.
 */
export function safetensorsTensors(path: string): { readonly tensors: ReadonlyMap<string, StoredTensor>; close(): void } {
  // BatchNorm's num_batches_tracked (I64) carries nothing vggc needs.
  return withHeader(path, (key) => key.endsWith('.num_batches_tracked'), (fd, entries, fail) => {
    const tensors = new Map<string, StoredTensor>();
    for (const e of entries) {
      const size = READABLE[e.dtype];
      tensors.set(e.key, { shape: e.shape, origin: e.key, read: (start, count) => convert(fd, e, e.begin + start * size, count, fail) });
    }
    return { tensors, close: () => fs.closeSync(fd) };
  });
}

/**
 * Opens `path`, reads and checks its header, and hands the open file to `use`, which keeps it (the
 * result closes it later); if anything throws, the file is closed and the error passes on.
 */
function withHeader<T>(path: string, ignored: (key: string) => boolean, use: (fd: number, entries: Entry[], fail: (m: string) => never) => T): T {
  // All of vggc's typed-array views assume the file's little-endian byte order is the host's.
  if (os.endianness() !== 'LE') throw new Error('vggc needs a little-endian host');
  const fail = (msg: string): never => {
    throw new VggcError(`${path}: ${msg}`);
  };
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    return fail(`cannot open weights file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    return use(fd, readHeader(fd, fs.fstatSync(fd).size, fail, ignored), fail);
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/** Parses and checks the header; the entries' begin/end it returns are absolute file positions. */
function readHeader(fd: number, fileSize: number, fail: (m: string) => never, ignored: (key: string) => boolean): Entry[] {
  if (fileSize < 8) fail(`file is ${fileSize} bytes, too short for a safetensors header (at least 8)`);
  const lenBuf = Buffer.alloc(8);
  readFully(fd, lenBuf, 0, fail);
  const headerLen = lenBuf.readBigUInt64LE(0);
  if (headerLen > BigInt(MAX_HEADER_BYTES)) fail(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  const n = Number(headerLen);
  if (8 + n > fileSize) fail(`header length ${n} runs past the end of the file (${fileSize} bytes)`);
  const headerBuf = Buffer.alloc(n);
  readFully(fd, headerBuf, 8, fail);

  let text: string;
  let header: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBuf);
    header = JSON.parse(text);
  } catch (e) {
    return fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    fail(`header is not a JSON object (found ${Array.isArray(header) ? 'an array' : JSON.stringify(header)})`);
  }
  // JSON.parse keeps the last of duplicate keys without a word; a file with two different tensors
  // under one name is corrupt and must not load silently.
  const seen = new Set<string>();
  for (const k of topLevelKeys(text)) {
    if (seen.has(k)) fail(`header lists tensor ${show(k)} more than once`);
    seen.add(k);
  }

  const dataStart = 8 + n;
  const dataLen = fileSize - dataStart;
  const list: Entry[] = [];
  for (const [key, value] of Object.entries(header as Record<string, unknown>)) {
    if (key === '__metadata__' || ignored(key)) continue;
    list.push(checkEntry(key, value, fail));
  }
  // Overlap: after sorting by begin, each tensor must end before the next begins (empty ones never overlap).
  const sorted = list.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1], sorted[i]];
    if (b.begin < a.end) fail(`tensor ${show(a.key)} (data_offsets [${a.begin}, ${a.end}]) overlaps tensor ${show(b.key)} (data_offsets [${b.begin}, ${b.end}])`);
  }
  const last = sorted[sorted.length - 1];
  if (last && last.end > dataLen) {
    fail(`file is truncated: tensor ${show(last.key)} ends at byte ${dataStart + last.end} but the file has ${fileSize} bytes`);
  }
  return list.map((e) => ({ ...e, begin: dataStart + e.begin, end: dataStart + e.end }));
}

function checkEntry(key: string, value: unknown, fail: (m: string) => never): Entry {
  const name = `tensor ${show(key)}`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(`${name}: header entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string') fail(`${name} has no "dtype" string (found ${JSON.stringify(dtype) ?? 'nothing'})`);
  const d = dtype as string;
  if (!(d in READABLE)) {
    fail(OTHER_DTYPES.has(d)
      ? `${name} has dtype ${d}; vggc reads only F32, F16, BF16 and F64`
      : `${name} has unknown dtype ${JSON.stringify(d)} (vggc reads F32, F16, BF16 and F64)`);
  }
  const isIndex = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    fail(`${name} has an invalid "shape" ${JSON.stringify(shape) ?? '(missing)'}; expected an array of non-negative integers`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
    fail(`${name} has invalid "data_offsets" ${JSON.stringify(offsets) ?? '(missing)'}; expected [begin, end] with non-negative integers`);
  }
  const [begin, end] = offsets as number[];
  if (end < begin) fail(`${name} has data_offsets [${begin}, ${end}] whose end is before its begin`);
  const dims = shape as number[];
  const bytes = dims.reduce((a, b) => a * b, 1) * READABLE[d];
  if (bytes !== end - begin) {
    fail(`${name} has shape ${fmtShape(dims)} of ${d} (${bytes} bytes) but data_offsets [${begin}, ${end}] span ${end - begin} bytes`);
  }
  return { key, dtype: d, shape: dims, begin, end };
}

/**
 * Decides whether the file uses torchvision's or the seed notebook's key names (whichever matches
 * more parameters; classifier keys are the same in both), then requires exactly the config's
 * tensors with exactly its shapes. Returns the file entry for each torchvision key.
 */
function matchParams(entries: readonly Entry[], params: readonly ParamTensor[], fail: (m: string) => never): Map<string, Entry> {
  const byKey = new Map(entries.map((e) => [e.key, e]));
  const count = (keyOf: (p: ParamTensor) => string) => params.filter((p) => byKey.has(keyOf(p))).length;
  const keyOf = count((p) => p.notebookKey) > count((p) => p.key) ? (p: ParamTensor) => p.notebookKey : (p: ParamTensor) => p.key;

  const result = new Map<string, Entry>();
  const used = new Set<string>();
  for (const p of params) {
    const k = keyOf(p);
    const e = byKey.get(k);
    if (!e) return fail(`missing tensor ${k} (expected shape ${fmtShape(p.shape)})`);
    if (!sameShape(e.shape, p.shape)) fail(`tensor ${k} has shape ${fmtShape(e.shape)} but the config expects ${fmtShape(p.shape)}`);
    result.set(p.key, e);
    used.add(k);
  }
  const extras = entries.filter((e) => !used.has(e.key));
  if (extras.length > 0) {
    const k = extras[0].key;
    // Batch-norm buffers are the usual extra: say so instead of leaving the user to guess.
    const hint = /\.(num_batches_tracked|running_mean|running_var)$/.test(k) ? ', looks like batch-norm state' : '';
    const more = extras.length > 1 ? `; ${extras.length} unexpected tensors in total` : '';
    fail(`unexpected tensor ${show(k)} (not a parameter of this config${hint}${more})`);
  }
  return result;
}

function makeSource(
  path: string,
  fd: number,
  byParam: Map<string, Entry>,
  allowNonfinite: boolean,
  fail: (m: string) => never,
): WeightSource {
  let closed = false;
  return {
    description: path,
    readRows(param, rowStart, rowEnd) {
      const e = byParam.get(param.key);
      if (!e) throw new Error(`${param.key} is not one of the parameters ${path} was opened for`);
      if (closed) throw new Error(`${path} was already closed`);
      const rows = e.shape[0] ?? 1;
      if (!(Number.isInteger(rowStart) && Number.isInteger(rowEnd) && 0 <= rowStart && rowStart <= rowEnd && rowEnd <= rows)) {
        throw new Error(`rows [${rowStart}, ${rowEnd}) out of range for ${param.key} with ${rows} rows`);
      }
      const rowElems = e.shape.slice(1).reduce((a, b) => a * b, 1);
      const count = (rowEnd - rowStart) * rowElems;
      const out = convert(fd, e, e.begin + rowStart * rowElems * READABLE[e.dtype], count, fail);
      if (!allowNonfinite) checkFinite(out, e, rowStart * rowElems, fail);
      return out;
    },
    close() {
      if (!closed) fs.closeSync(fd);
      closed = true;
    },
  };
}

/** Reads `count` elements of `e.dtype` at file position `pos`, as float32. */
function convert(fd: number, e: Entry, pos: number, count: number, fail: (m: string) => never): Float32Array {
  const out = new Float32Array(count);
  // F32 goes straight into the result: no copy.
  const raw = e.dtype === 'F32' ? new Uint8Array(out.buffer) : new Uint8Array(count * READABLE[e.dtype]);
  readFully(fd, raw, pos, fail);
  decodeFloats(raw, e.dtype as FloatStorage, out);
  return out;
}

function checkFinite(data: Float32Array, e: Entry, firstIndex: number, fail: (m: string) => never): void {
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i] & 0x7f800000) !== 0x7f800000) continue; // exponent all ones ⇔ NaN or ±Inf
    let what = Number.isNaN(data[i]) ? 'NaN' : String(data[i]);
    if (e.dtype === 'F64' && what !== 'NaN') what += ' (after rounding to float32)';
    fail(`tensor ${show(e.key)} has ${what} at index ${fmtShape(unravel(firstIndex + i, e.shape))} (use --allow-nonfinite to accept it)`);
  }
}

/** readSync may return fewer bytes than asked; a 0 means the file ended (or shrank since it was opened). */
function readFully(fd: number, buf: Uint8Array, pos: number, fail: (m: string) => never): void {
  let done = 0;
  while (done < buf.length) {
    const n = fs.readSync(fd, buf, done, buf.length - done, pos + done);
    if (n === 0) fail(`file is truncated: expected ${buf.length} bytes at offset ${pos}, the file ends after ${done}`);
    done += n;
  }
}

/**
 * Top-level keys of a JSON object text, in order, duplicates kept. Only called on text JSON.parse
 * accepted as an object, so it just tracks nesting depth and skips strings: a string at depth 1
 * followed by ':' is a key.
 */
export function topLevelKeys(json: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      for (i++; json.charCodeAt(i) !== 0x22; i++) if (json.charCodeAt(i) === 0x5c /* \ */) i++;
      if (depth !== 1) continue;
      let j = i + 1;
      while (json[j] === ' ' || json[j] === '\n' || json[j] === '\r' || json[j] === '\t') j++;
      if (json[j] === ':') keys.push(JSON.parse(json.slice(start, i + 1)) as string);
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) depth++;
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) depth--;
  }
  return keys;
}

/** Flat element index → index per dimension (for messages that point at one value). */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const idx: number[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    idx.unshift(flat % shape[d]);
    flat = Math.floor(flat / shape[d]);
  }
  return idx;
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);
export const fmtShape = (s: readonly number[]): string => `[${s.join(', ')}]`;
/** Keys come from the file: quote them only if they would be unreadable bare in a one-line message. */
const show = (k: string): string => (/^[\x21-\x7e]+$/.test(k) ? k : JSON.stringify(k));
