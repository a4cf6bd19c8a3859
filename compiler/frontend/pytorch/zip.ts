/**
 * A minimal zip reader for torch.save's archives, over positioned reads: only the end records and
 * the central directory are read up front, and each member's bytes when they are asked for, so a
 * 500 MB checkpoint never sits in memory.
 *
 * torch writes every member ZIP_STORED with a data descriptor (sizes only in the central
 * directory), pads local headers with an extra field so data starts 64-byte aligned, and always
 * ends with zip64 records. Deflate is accepted for small members read whole (data.pkl, in case an
 * archive was re-zipped); tensor data must be stored.
 */
import { inflateRawSync } from 'node:zlib';
import { checkSpan, failIn, quoted as show, readAt, readInto, type OpenFile } from './file-bytes.js';
import { crc32 } from './crc32.js';

export interface ZipEntry {
  readonly name: string;
  /** 0 = stored, 8 = deflate. */
  readonly method: number;
  readonly flags: number;
  readonly crc32: number;
  readonly compressedSize: number;
  readonly size: number;
  readonly localHeaderOffset: number;
}

const EOCD_SIG = 0x06054b50;
const EOCD64_LOCATOR_SIG = 0x07064b50;
const EOCD64_SIG = 0x06064b50;
const CENTRAL_SIG = 0x02014b50;
const LOCAL_SIG = 0x04034b50;
const EOCD_BYTES = 22;
const CENTRAL_BYTES = 46;
const LOCAL_BYTES = 30;
const MAX_COMMENT = 0xffff;

/** True when the file starts like a zip archive (a local header, or the end record of an empty one). */
export function looksLikeZip(head: Uint8Array): boolean {
  if (head.length < 4) return false;
  const sig = new DataView(head.buffer, head.byteOffset, 4).getUint32(0, true);
  return sig === LOCAL_SIG || sig === EOCD_SIG;
}

/** All members by name. Checks every offset and size against the file before anything is read. */
export function readZipDirectory(file: OpenFile): Map<string, ZipEntry> {
  const fail = (m: string): never => failIn(file.path, `zip archive: ${m}`);
  const { cdOffset, cdSize, count, cdLimit } = findCentralDirectory(file, fail);
  if (cdOffset + cdSize > cdLimit) fail(`central directory (bytes ${cdOffset}..${cdOffset + cdSize}) overlaps the end records at byte ${cdLimit}`);
  if (count > cdSize / CENTRAL_BYTES) fail(`end record lists ${count} entries but the central directory has room for at most ${Math.floor(cdSize / CENTRAL_BYTES)}`);
  const cd = readAt(file, cdOffset, cdSize, 'zip central directory');
  const view = new DataView(cd.buffer);
  const entries = new Map<string, ZipEntry>();
  let at = 0;
  for (let i = 0; i < count; i++) {
    if (at + CENTRAL_BYTES > cd.length) fail(`central directory entry ${i} runs past the directory's end`);
    if (view.getUint32(at, true) !== CENTRAL_SIG) fail(`central directory entry ${i} (byte ${cdOffset + at}) has no entry signature`);
    const flags = view.getUint16(at + 8, true);
    const method = view.getUint16(at + 10, true);
    const nameLen = view.getUint16(at + 28, true);
    const extraLen = view.getUint16(at + 30, true);
    const commentLen = view.getUint16(at + 32, true);
    const end = at + CENTRAL_BYTES + nameLen + extraLen + commentLen;
    if (end > cd.length) fail(`central directory entry ${i} runs past the directory's end`);
    const name = new TextDecoder('utf-8').decode(cd.subarray(at + CENTRAL_BYTES, at + CENTRAL_BYTES + nameLen));
    const fixed = {
      size: view.getUint32(at + 24, true),
      compressedSize: view.getUint32(at + 20, true),
      localHeaderOffset: view.getUint32(at + 42, true),
      disk: view.getUint16(at + 34, true),
    };
    const big = applyZip64Extra(fixed, cd.subarray(at + CENTRAL_BYTES + nameLen, at + CENTRAL_BYTES + nameLen + extraLen), (m) => fail(`entry ${show(name)}: ${m}`));
    if (big.disk !== 0) fail(`entry ${show(name)} is on disk ${big.disk}; multi-part archives are not supported`);
    if (flags & 0x1) fail(`entry ${show(name)} is encrypted`);
    if (big.localHeaderOffset + LOCAL_BYTES > cdOffset) fail(`entry ${show(name)}: local header offset ${big.localHeaderOffset} is not before the central directory (byte ${cdOffset})`);
    if (entries.has(name)) fail(`entry ${show(name)} appears twice`);
    entries.set(name, { name, method, flags, crc32: view.getUint32(at + 16, true), compressedSize: big.compressedSize, size: big.size, localHeaderOffset: big.localHeaderOffset });
    at = end;
  }
  return entries;
}

interface Sizes {
  size: number;
  compressedSize: number;
  localHeaderOffset: number;
  disk: number;
}

/** Replaces the 0xFFFFFFFF placeholders of a central entry with the zip64 extra field's 8-byte values. */
function applyZip64Extra(fixed: Sizes, extra: Uint8Array, fail: (m: string) => never): Sizes {
  const out = { ...fixed };
  const view = new DataView(extra.buffer, extra.byteOffset, extra.byteLength);
  for (let at = 0; at + 4 <= extra.length; ) {
    const id = view.getUint16(at, true);
    const len = view.getUint16(at + 2, true);
    if (at + 4 + len > extra.length) fail('extra field runs past its entry');
    if (id === 0x0001) {
      let p = at + 4;
      const next64 = (field: string): number => {
        if (p + 8 > at + 4 + len) fail(`zip64 extra field lacks the ${field}`);
        const v = view.getBigUint64(p, true);
        p += 8;
        return toSafe(v, field, fail);
      };
      if (fixed.size === 0xffffffff) out.size = next64('size');
      if (fixed.compressedSize === 0xffffffff) out.compressedSize = next64('compressed size');
      if (fixed.localHeaderOffset === 0xffffffff) out.localHeaderOffset = next64('local header offset');
      if (fixed.disk === 0xffff) {
        if (p + 4 > at + 4 + len) fail('zip64 extra field lacks the disk number');
        out.disk = view.getUint32(p, true);
      }
    }
    at += 4 + len;
  }
  return out;
}

/** Finds the end record (and the zip64 one torch always writes) from the end of the file. */
function findCentralDirectory(file: OpenFile, fail: (m: string) => never): { cdOffset: number; cdSize: number; count: number; cdLimit: number } {
  if (file.size < EOCD_BYTES) fail(`file is ${file.size} bytes, too short for a zip end record`);
  const tailLen = Math.min(file.size, EOCD_BYTES + MAX_COMMENT + 20);
  const tailStart = file.size - tailLen;
  const tail = readAt(file, tailStart, tailLen, 'zip end record');
  const view = new DataView(tail.buffer);
  let eocd = -1;
  for (let p = tailLen - EOCD_BYTES; p >= 0; p--) {
    // The comment length must reach exactly to the end of the file: a stray signature inside
    // member data or the comment itself is not the end record.
    if (view.getUint32(p, true) === EOCD_SIG && p + EOCD_BYTES + view.getUint16(p + 20, true) === tailLen) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) fail('no end-of-central-directory record (truncated download, or not a zip file)');
  const disk = view.getUint16(eocd + 4, true);
  const cdDisk = view.getUint16(eocd + 6, true);
  let count = view.getUint16(eocd + 10, true);
  let cdSize = view.getUint32(eocd + 12, true);
  let cdOffset = view.getUint32(eocd + 16, true);
  let cdLimit = tailStart + eocd;
  if (eocd >= 20 && view.getUint32(eocd - 20, true) === EOCD64_LOCATOR_SIG) {
    const rec64 = toSafe(view.getBigUint64(eocd - 20 + 8, true), 'zip64 end record offset', fail);
    const locatorAt = tailStart + eocd - 20;
    if (rec64 + 56 > locatorAt) fail(`zip64 end record offset ${rec64} is not before its locator (byte ${locatorAt})`);
    const r = new DataView(readAt(file, rec64, 56, 'zip64 end record').buffer);
    if (r.getUint32(0, true) !== EOCD64_SIG) fail(`no zip64 end record at byte ${rec64}, where the locator points`);
    if (r.getUint32(16, true) !== 0 || r.getUint32(20, true) !== 0) fail('multi-part archives are not supported');
    count = toSafe(r.getBigUint64(32, true), 'zip64 entry count', fail);
    cdSize = toSafe(r.getBigUint64(40, true), 'zip64 central directory size', fail);
    cdOffset = toSafe(r.getBigUint64(48, true), 'zip64 central directory offset', fail);
    cdLimit = rec64;
  } else {
    if (disk !== 0 || cdDisk !== 0) fail('multi-part archives are not supported');
    if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) fail('end record needs zip64 values but there is no zip64 end record');
  }
  return { cdOffset, cdSize, count, cdLimit };
}

/**
 * File position of a member's first data byte, from its local header (whose name and extra field
 * lengths may differ from the central directory's: torch pads the local one). The member's data
 * span is checked to lie inside the file.
 */
export function entryDataOffset(file: OpenFile, entry: ZipEntry): number {
  const fail = (m: string): never => failIn(file.path, `zip entry ${show(entry.name)}: ${m}`);
  const head = readAt(file, entry.localHeaderOffset, LOCAL_BYTES, `local header of zip entry ${show(entry.name)}`);
  const view = new DataView(head.buffer);
  if (view.getUint32(0, true) !== LOCAL_SIG) fail(`no local header at byte ${entry.localHeaderOffset}`);
  const nameLen = view.getUint16(26, true);
  const extraLen = view.getUint16(28, true);
  const name = readAt(file, entry.localHeaderOffset + LOCAL_BYTES, nameLen, `name of zip entry ${show(entry.name)}`);
  if (new TextDecoder('utf-8').decode(name) !== entry.name) fail('local header names a different file than the central directory');
  const start = entry.localHeaderOffset + LOCAL_BYTES + nameLen + extraLen;
  checkSpan(file, start, entry.compressedSize, `data of zip entry ${show(entry.name)}`);
  return start;
}

/** Bytes read at a time to check a stored member's CRC-32 (tensor data: up to hundreds of MB). */
const CRC_CHUNK_BYTES = 4 << 20;

/**
 * Checks a stored (uncompressed) member's CRC-32 against the central directory's, reading its data
 * in chunks: a damaged byte inside a tensor would otherwise compile into wrong weights silently.
 * `start` is its first data byte (entryDataOffset).
 */
export function checkStoredEntryCrc(file: OpenFile, entry: ZipEntry, start: number): void {
  const chunk = new Uint8Array(Math.min(CRC_CHUNK_BYTES, Math.max(1, entry.size)));
  let crc = 0;
  for (let at = 0; at < entry.size; at += chunk.length) {
    const part = chunk.subarray(0, Math.min(chunk.length, entry.size - at));
    readInto(file, start + at, part, `data of zip entry ${show(entry.name)}`);
    crc = crc32(part, crc);
  }
  if (crc !== entry.crc32) failIn(file.path, `zip entry ${show(entry.name)}: CRC-32 does not match its data (damaged file)`);
}

/** A whole member's bytes (stored or deflated), CRC-checked; for data.pkl and other small members. */
export function readEntryBytes(file: OpenFile, entry: ZipEntry, maxBytes: number): Uint8Array {
  const fail = (m: string): never => failIn(file.path, `zip entry ${show(entry.name)}: ${m}`);
  if (entry.size > maxBytes) fail(`is ${entry.size} bytes, more than the ${maxBytes}-byte limit for it`);
  const start = entryDataOffset(file, entry);
  const raw = readAt(file, start, entry.compressedSize, `data of zip entry ${show(entry.name)}`);
  let data: Uint8Array;
  if (entry.method === 0) {
    if (entry.size !== entry.compressedSize) fail(`stored entry has size ${entry.size} but ${entry.compressedSize} stored bytes`);
    data = raw;
  } else if (entry.method === 8) {
    try {
      data = new Uint8Array(inflateRawSync(raw, { maxOutputLength: Math.max(1, entry.size) }));
    } catch (e) {
      return fail(`deflate data is damaged (${(e as Error).message.split('\n')[0]})`);
    }
    if (data.length !== entry.size) fail(`inflates to ${data.length} bytes, the directory says ${entry.size}`);
  } else {
    return fail(`uses compression method ${entry.method}; vggc reads stored and deflated entries only`);
  }
  if (crc32(data) !== entry.crc32) fail('CRC-32 does not match its data (damaged file)');
  return data;
}

function toSafe(v: bigint, field: string, fail: (m: string) => never): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`${field} ${v} is out of range`);
  return Number(v);
}
