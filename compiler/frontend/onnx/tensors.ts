/**
 * ONNX tensors as weight data: where a TensorProto's values are (raw_data, float_data/int32_data/
 * double_data, or an external file next to the model), checked up front, and read as float32 rows
 * on demand. External files are read with positioned reads, row range by row range, so a model
 * whose weights live outside the .onnx file never sits in memory whole.
 *
 * External data locations are confined to the model's folder: absolute paths, `..` components and
 * symlinks that resolve outside it are refused, naming the tensor and the path.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { VggcError } from '../../errors.js';
import { decodeFloats, f16ToF32Table, type FloatStorage } from '../../weights/half.js';

/** TensorProto.DataType values vggc converts to float32, with their byte sizes. */
const FLOAT_TYPES: Record<number, { name: string; bytes: number; storage: FloatStorage }> = {
  1: { name: 'FLOAT', bytes: 4, storage: 'F32' },
  10: { name: 'FLOAT16', bytes: 2, storage: 'F16' },
  11: { name: 'DOUBLE', bytes: 8, storage: 'F64' },
  16: { name: 'BFLOAT16', bytes: 2, storage: 'BF16' },
};
const TYPE_NAMES: Record<number, string> = {
  0: 'UNDEFINED', 1: 'FLOAT', 2: 'UINT8', 3: 'INT8', 4: 'UINT16', 5: 'INT16', 6: 'INT32', 7: 'INT64', 8: 'STRING', 9: 'BOOL',
  10: 'FLOAT16', 11: 'DOUBLE', 12: 'UINT32', 13: 'UINT64', 14: 'COMPLEX64', 15: 'COMPLEX128', 16: 'BFLOAT16',
};
export const typeName = (t: number): string => TYPE_NAMES[t] ?? `data type ${t}`;

/** int64 fields arrive as numbers or Long objects (protobufjs with the `long` package). */
export function toNumber(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

type Storage =
  | { readonly kind: 'bytes'; readonly bytes: Uint8Array }
  | { readonly kind: 'values'; readonly values: ArrayLike<number>; readonly halfBits: boolean }
  | { readonly kind: 'external'; readonly file: string; readonly offset: number };

/** A float tensor's data, validated: element count matches the bytes that hold it. */
export interface FloatTensor {
  /** For messages: `tensor "features.0.weight"`. */
  readonly label: string;
  readonly dims: readonly number[];
  readonly dataType: number;
  readonly storage: Storage;
}

/**
 * Checks a TensorProto that should hold float weights and says where its data is. `modelPath` is
 * the .onnx file (messages start with it; external files are looked up next to it).
 */
export function floatTensor(t: OnnxTypes.ITensorProto, modelPath: string, label: string): FloatTensor {
  const fail = (msg: string): never => {
    throw new VggcError(`${modelPath}: ${label} ${msg}`);
  };
  const dims = (t.dims ?? []).map(toNumber);
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`has invalid dims [${dims.join(', ')}]`);
  const dataType = t.dataType ?? 0;
  const type = FLOAT_TYPES[dataType];
  if (!type) fail(`has data type ${typeName(dataType)}; vggc reads weights stored as FLOAT, FLOAT16, BFLOAT16 or DOUBLE`);
  if (t.segment) fail('is stored in segments, which vggc does not read');
  const count = dims.reduce((a, b) => a * b, 1);
  const bytes = count * type.bytes;
  const shape = `shape [${dims.join(', ')}] of ${type.name} (${bytes} bytes)`;

  if (t.dataLocation === 1 /* EXTERNAL */) {
    const entries = new Map<string, string>();
    for (const e of t.externalData ?? []) entries.set(e.key ?? '', e.value ?? '');
    const location = entries.get('location');
    if (!location) fail('has data_location EXTERNAL but no "location" entry in external_data');
    const offset = entries.has('offset') ? Number(entries.get('offset')) : 0;
    if (!Number.isSafeInteger(offset) || offset < 0) fail(`has an invalid external data offset ${JSON.stringify(entries.get('offset'))}`);
    const length = entries.has('length') ? Number(entries.get('length')) : bytes;
    if (!Number.isSafeInteger(length) || length < 0) fail(`has an invalid external data length ${JSON.stringify(entries.get('length'))}`);
    if (length !== bytes) fail(`has ${shape} but its external data length is ${length} bytes`);
    const file = resolveExternal(location!, modelPath, label);
    let size: number;
    try {
      size = fs.statSync(file).size;
    } catch (e) {
      return fail(`has its data in external file ${JSON.stringify(location)}, which cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    if (offset + bytes > size) fail(`needs bytes [${offset}, ${offset + bytes}) of external file ${JSON.stringify(location)}, which has only ${size} bytes (truncated?)`);
    return { label, dims, dataType, storage: { kind: 'external', file, offset } };
  }
  if (t.dataLocation !== undefined && t.dataLocation !== null && t.dataLocation !== 0) fail(`has unknown data_location ${t.dataLocation}`);

  const raw = t.rawData;
  if (raw && raw.length > 0) {
    if (raw.length !== bytes) fail(`has ${shape} but raw_data holds ${raw.length} bytes`);
    return { label, dims, dataType, storage: { kind: 'bytes', bytes: raw } };
  }
  // Typed fields: FLOAT in float_data, DOUBLE in double_data, FLOAT16/BFLOAT16 bits in int32_data.
  const values: ArrayLike<number> = dataType === 1 ? (t.floatData ?? []) : dataType === 11 ? (t.doubleData ?? []) : (t.int32Data ?? []);
  if (values.length !== count) fail(`has ${shape} but holds ${values.length} values`);
  return { label, dims, dataType, storage: { kind: 'values', values, halfBits: dataType === 10 || dataType === 16 } };
}

/**
 * `location` relative to the model's folder, refusing anything that could leave it: absolute paths
 * (POSIX or Windows), `..` components, and symlinks (of the file or a folder on the way) whose
 * target is outside the folder.
 */
function resolveExternal(location: string, modelPath: string, label: string): string {
  const refuse = (why: string): never => {
    throw new VggcError(`${modelPath}: ${label} has its data in external file ${JSON.stringify(location)}, refused: ${why}`);
  };
  if (location.includes('\0')) refuse('the path contains a NUL character');
  if (path.isAbsolute(location) || path.win32.isAbsolute(location) || /^[A-Za-z]:/.test(location)) {
    refuse('an absolute path; external data must be a file in the model\'s folder');
  }
  if (location.split(/[\\/]/).some((part) => part === '..')) refuse('the path has ".." components; external data must be a file in the model\'s folder');
  const dir = path.dirname(path.resolve(modelPath));
  const file = path.resolve(dir, location);
  let realDir: string;
  let realFile: string;
  try {
    realDir = fs.realpathSync(dir);
    realFile = fs.realpathSync(file);
  } catch (e) {
    throw new VggcError(`${modelPath}: ${label} has its data in external file ${JSON.stringify(location)}, which cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const rel = path.relative(realDir, realFile);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) refuse(`it resolves (through a symlink) to ${realFile}, outside the model's folder`);
  return realFile;
}

const elemBytes = (t: FloatTensor): number => FLOAT_TYPES[t.dataType].bytes;

/** Opens external files once each; positioned reads. */
export class FileCache {
  private readonly fds = new Map<string, number>();
  constructor(private readonly modelPath: string) {}

  read(file: string, buf: Uint8Array, pos: number, label: string): void {
    let fd = this.fds.get(file);
    if (fd === undefined) {
      try {
        fd = fs.openSync(file, 'r');
      } catch (e) {
        throw new VggcError(`${this.modelPath}: ${label}: cannot open external data file ${file} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
      }
      this.fds.set(file, fd);
    }
    let done = 0;
    while (done < buf.length) {
      const n = fs.readSync(fd, buf, done, buf.length - done, pos + done);
      if (n === 0) throw new VggcError(`${this.modelPath}: ${label}: external data file ${file} ends early (truncated since it was checked?)`);
      done += n;
    }
  }

  close(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }
}

/** Elements [start, start + count) of `t`, in storage order, as float32. */
export function readElements(t: FloatTensor, start: number, count: number, files: FileCache): Float32Array {
  const out = new Float32Array(count);
  const s = t.storage;
  if (s.kind === 'values') {
    if (s.halfBits) {
      const table = t.dataType === 10 ? f16ToF32Table() : null;
      const bits = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) {
        const h = s.values[start + i] & 0xffff;
        if (table) out[i] = table[h];
        else bits[i] = h << 16;
      }
    } else {
      for (let i = 0; i < count; i++) out[i] = s.values[start + i];
    }
    return out;
  }
  const size = elemBytes(t);
  // A fresh, aligned buffer for the raw bytes (raw_data inside the model file need not be aligned).
  const raw = t.dataType === 1 ? new Uint8Array(out.buffer) : new Uint8Array(count * size);
  if (s.kind === 'bytes') raw.set(s.bytes.subarray(start * size, (start + count) * size));
  else files.read(s.file, raw, s.offset + start * size, t.label);
  decodeFloats(raw, FLOAT_TYPES[t.dataType].storage, out);
  return out;
}
