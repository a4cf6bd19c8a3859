/**
 * Hand-made torch.save files for the tests: pickle opcodes as bytes, a state_dict pickle the way
 * torch 1.13 writes one, and a zip writer (stored members, data 64-byte aligned as torch does, zip64
 * end records, optionally zip64 extra fields in every central entry).
 */
import { crc32 } from '../../compiler/frontend/pytorch/crc32.js';

export const op = {
  proto: (v = 2) => [0x80, v],
  mark: [0x28],
  stop: [0x2e],
  none: [0x4e],
  true: [0x88],
  false: [0x89],
  emptyTuple: [0x29],
  tuple: [0x74],
  tuple1: [0x85],
  tuple2: [0x86],
  emptyDict: [0x7d],
  emptyList: [0x5d],
  setitems: [0x75],
  setitem: [0x73],
  appends: [0x65],
  reduce: [0x52],
  build: [0x62],
  binpersid: [0x51],
  global: (module: string, name: string) => [0x63, ...utf8(`${module}\n${name}\n`)],
  unicode: (s: string) => {
    const b = utf8(s);
    return [0x58, ...u32(b.length), ...b];
  },
  int: (n: number) => (n < 256 ? [0x4b, n] : [0x4a, ...u32(n)]),
  put: (i: number) => [0x71, i],
  get: (i: number) => [0x68, i],
};

export function utf8(s: string): number[] {
  return [...Buffer.from(s, 'utf8')];
}

export function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

export function bytes(...parts: (number | number[])[]): Uint8Array {
  return Uint8Array.from(parts.flat());
}

export interface HandTensor {
  key: string;
  shape: number[];
  /** Row-major strides; default contiguous. */
  stride?: number[];
  storage: string;
  storageNumel: number;
  offset?: number;
  storageClass?: string;
}

/** A state_dict pickle as torch 1.13 writes one (protocol 2): OrderedDict, _rebuild_tensor_v2 per tensor, zip persistent ids. */
export function stateDictPickle(tensors: readonly HandTensor[]): Uint8Array {
  const out: number[] = [...op.proto(2), ...op.global('collections', 'OrderedDict'), ...op.emptyTuple, ...op.reduce, ...op.mark];
  for (const t of tensors) {
    const stride = t.stride ?? contiguousStride(t.shape);
    out.push(...op.unicode(t.key), ...op.global('torch._utils', '_rebuild_tensor_v2'), ...op.mark);
    out.push(...op.mark, ...op.unicode('storage'), ...op.global('torch', t.storageClass ?? 'FloatStorage'), ...op.unicode(t.storage), ...op.unicode('cpu'), ...op.int(t.storageNumel), ...op.tuple, ...op.binpersid);
    out.push(...op.int(t.offset ?? 0), ...op.mark, ...t.shape.flatMap(op.int), ...op.tuple, ...op.mark, ...stride.flatMap(op.int), ...op.tuple);
    out.push(...op.false, ...op.global('collections', 'OrderedDict'), ...op.emptyTuple, ...op.reduce, ...op.tuple, ...op.reduce);
  }
  out.push(...op.setitems, ...op.emptyDict, ...op.unicode('_metadata'), ...op.global('collections', 'OrderedDict'), ...op.emptyTuple, ...op.reduce, ...op.setitem, ...op.build, ...op.stop);
  return Uint8Array.from(out);
}

export function contiguousStride(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  for (let i = shape.length - 1, acc = 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

export interface ZipMember {
  name: string;
  data: Uint8Array;
}

export interface ZipOptions {
  /** Every central entry's sizes and offset as 0xFFFFFFFF with the real values in a zip64 extra field. */
  zip64Entries?: boolean;
  /** Leave out the zip64 end records (a plain zip, as Python's zipfile writes small archives). */
  noZip64End?: boolean;
}

/** A stored-only zip with a data descriptor flag like torch's writer, member data aligned to 64 bytes. */
export function writeZip(members: readonly ZipMember[], opts: ZipOptions = {}): Uint8Array {
  const chunks: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let pos = 0;
  const push = (b: Uint8Array): void => {
    chunks.push(b);
    pos += b.length;
  };
  for (const m of members) {
    const name = Buffer.from(m.name, 'utf8');
    const offset = pos;
    const pad = (64 - ((pos + 30 + name.length + 4) % 64)) % 64;
    const local = Buffer.alloc(30 + name.length + 4 + pad);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0808, 6);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(4 + pad, 28);
    name.copy(local, 30);
    local.writeUInt16LE(0x4246, 30 + name.length); // "FB": torch's padding field
    local.writeUInt16LE(pad, 32 + name.length);
    local.fill(0x5a, 34 + name.length);
    push(local);
    push(m.data);
    const crc = crc32(m.data);
    const desc = Buffer.alloc(16);
    desc.writeUInt32LE(0x08074b50, 0);
    desc.writeUInt32LE(crc, 4);
    desc.writeUInt32LE(m.data.length, 8);
    desc.writeUInt32LE(m.data.length, 12);
    push(desc);
    const extra = opts.zip64Entries ? Buffer.alloc(4 + 24) : Buffer.alloc(0);
    if (opts.zip64Entries) {
      extra.writeUInt16LE(1, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(m.data.length), 4);
      extra.writeBigUInt64LE(BigInt(m.data.length), 12);
      extra.writeBigUInt64LE(BigInt(offset), 20);
    }
    const c = Buffer.alloc(46 + name.length + extra.length);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(45, 4);
    c.writeUInt16LE(45, 6);
    c.writeUInt16LE(0x0808, 8);
    c.writeUInt32LE(crc, 16);
    const big = opts.zip64Entries ? 0xffffffff : -1;
    c.writeUInt32LE(big >= 0 ? big : m.data.length, 20);
    c.writeUInt32LE(big >= 0 ? big : m.data.length, 24);
    c.writeUInt16LE(name.length, 28);
    c.writeUInt16LE(extra.length, 30);
    c.writeUInt32LE(big >= 0 ? big : offset, 42);
    name.copy(c, 46);
    extra.copy(c, 46 + name.length);
    central.push(c);
  }
  const cdOffset = pos;
  for (const c of central) push(c);
  const cdSize = pos - cdOffset;
  if (!opts.noZip64End) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeUInt16LE(45, 12);
    rec.writeUInt16LE(45, 14);
    rec.writeBigUInt64LE(BigInt(members.length), 24);
    rec.writeBigUInt64LE(BigInt(members.length), 32);
    rec.writeBigUInt64LE(BigInt(cdSize), 40);
    rec.writeBigUInt64LE(BigInt(cdOffset), 48);
    const recAt = pos;
    push(rec);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(recAt), 8);
    loc.writeUInt32LE(1, 16);
    push(loc);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(members.length, 8);
  eocd.writeUInt16LE(members.length, 10);
  eocd.writeUInt32LE(opts.noZip64End ? cdSize : 0xffffffff, 12);
  eocd.writeUInt32LE(opts.noZip64End ? cdOffset : 0xffffffff, 16);
  push(eocd);
  return Buffer.concat(chunks);
}

/** Float32 values as bytes. */
export function f32Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}
