/**
 * FP32 tensor data in the two forms the Open Inference Protocol allows: JSON arrays (flat or nested
 * in row-major order) and the binary tensor extension's raw bytes (little-endian, row-major).
 */
import { endianness } from 'node:os';
import { badRequest } from './http-error.js';

const LITTLE = endianness() === 'LE';

export const product = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

/**
 * JSON `data` → floats. Nesting may stop at any depth (`[N][C*H*W]` is as good as fully nested or
 * flat), but each nested level must have exactly its dimension's length: a ragged array is refused
 * rather than silently flattened into the wrong pixels.
 */
export function floatsFromJson(data: unknown, shape: readonly number[]): Float32Array {
  const out = new Float32Array(product(shape));
  let at = 0;
  const walk = (node: unknown, depth: number, path: string): void => {
    if (!Array.isArray(node)) throw badRequest(`${path} must be an array of numbers, found ${describe(node)}`);
    if (node.length > 0 && Array.isArray(node[0])) {
      if (depth >= shape.length - 1) throw badRequest(`${path} is nested deeper than the shape [${shape.join(', ')}]`);
      if (node.length !== shape[depth]) throw badRequest(`${path} has ${node.length} elements but dimension ${depth} of the shape is ${shape[depth]}`);
      for (let i = 0; i < node.length; i++) walk(node[i], depth + 1, `${path}[${i}]`);
      return;
    }
    const want = product(shape.slice(depth));
    if (node.length !== want) throw badRequest(`${path} has ${node.length} values but shape [${shape.join(', ')}] needs ${want}${depth ? ' there' : ''}`);
    for (let i = 0; i < node.length; i++) {
      const v = node[i];
      if (typeof v !== 'number') throw badRequest(`${path}[${i}] is ${describe(v)}, not a number`);
      const f = Math.fround(v);
      if (!Number.isFinite(f)) throw badRequest(`${path}[${i}] is ${v}, beyond the range of FP32`);
      out[at++] = f;
    }
  };
  walk(data, 0, 'data');
  return out;
}

/** `bytes` (little-endian FP32) → floats; non-finite values are refused like JSON's. */
export function floatsFromBytes(bytes: Uint8Array, what: string): Float32Array {
  const out = new Float32Array(bytes.length / 4);
  if (LITTLE) new Uint8Array(out.buffer).set(bytes); // copied: the body's offset need not be 4-aligned
  else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
  }
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i])) throw badRequest(`${what}: element ${i} is ${out[i]}; only finite FP32 values are accepted`);
  }
  return out;
}

/** floats → little-endian bytes for a binary output. */
export function bytesFromFloats(data: Float32Array): Buffer {
  if (LITTLE) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out = Buffer.alloc(data.byteLength);
  for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i], 4 * i);
  return out;
}

/** A short description of a JSON value for an error line. */
export function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}…` : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
