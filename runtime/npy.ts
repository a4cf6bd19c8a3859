/**
 * Minimal .npy (format 1.0–3.0) reader/writer for little-endian float32 in C order: the only kind the
 * PyTorch reference writes (tools/torch_reference.py) and the tests need. Anything else is an error
 * rather than a silent conversion, so a golden in the wrong dtype cannot slip through.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { VggcError } from './format/errors.js';

const MAGIC = '\x93NUMPY';

export interface NpyArray {
  shape: number[];
  data: Float32Array;
}

export function readNpy(path: string): NpyArray {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    throw new VggcError(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  if (buf.length < 10) throw new VggcError(`${path}: not a .npy file (only ${buf.length} bytes)`);
  if (buf.toString('latin1', 0, 6) !== MAGIC) throw new VggcError(`${path}: not a .npy file`);
  const major = buf[6];
  // Version 1 has a u16 header length; versions 2 and 3 a u32.
  if (major < 1 || major > 3) throw new VggcError(`${path}: unsupported .npy format version ${major}`);
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  if (start + headerLen > buf.length) throw new VggcError(`${path}: header runs past the end of the file`);
  const header = buf.toString(major === 3 ? 'utf8' : 'latin1', start, start + headerLen);
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr !== '<f4') throw new VggcError(`${path}: dtype ${descr}, only little-endian float32 '<f4' is supported`);
  if (fortran !== 'False') throw new VggcError(`${path}: Fortran-order arrays are not supported`);
  if (shapeText === undefined) throw new VggcError(`${path}: header has no shape`);
  const shape = shapeText.split(',').map((s) => s.trim()).filter((s) => s.length > 0).map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new VggcError(`${path}: invalid shape (${shapeText})`);
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  if (buf.length - offset !== count * 4) throw new VggcError(`${path}: expected ${count * 4} data bytes, found ${buf.length - offset}`);
  // Copy: the data offset need not be 4-byte aligned within Node's pooled buffer.
  const data = new Float32Array(count);
  new Uint8Array(data.buffer).set(buf.subarray(offset));
  return { shape, data };
}

export function writeNpy(path: string, shape: readonly number[], data: Float32Array): void {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`writeNpy: shape [${shape.join(', ')}] holds ${count} values, data has ${data.length}`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Pad with spaces and end in '\n' so magic + length + header is a multiple of 64, as numpy does.
  header += ' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64) + '\n';
  const head = Buffer.alloc(10 + header.length);
  head.write(MAGIC, 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  head.write(header, 10, 'latin1');
  // Float32Array is host-endian; every platform Node runs on is little-endian.
  try {
    writeFileSync(path, Buffer.concat([head, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new VggcError(`${path}: cannot write (${code ?? e}${code === 'ENOENT' ? ': its folder does not exist' : code === 'EISDIR' ? ': it is a folder' : ''})`);
  }
}
