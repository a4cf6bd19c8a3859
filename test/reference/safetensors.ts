/**
 * Minimal safetensors reader for the reference tests: F32, F16 and BF16 tensors, all widened to
 * Float32Array. Deliberately separate from compiler/weights so the references do not share code
 * (or bugs) with the compiler they check.
 */
import { readFileSync } from 'node:fs';

export interface SafeTensor {
  dtype: string;
  shape: number[];
  data: Float32Array;
}

export function readSafetensors(path: string): { tensors: Map<string, SafeTensor>; metadata: Record<string, string> } {
  const buf = readFileSync(path);
  const headerLen = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.toString('utf8', 8, 8 + headerLen)) as Record<string, unknown>;
  const dataStart = 8 + headerLen;
  const tensors = new Map<string, SafeTensor>();
  let metadata: Record<string, string> = {};
  for (const [key, entry] of Object.entries(header)) {
    if (key === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const { dtype, shape, data_offsets: [begin, end] } = entry as { dtype: string; shape: number[]; data_offsets: [number, number] };
    // Integer buffers (BatchNorm's num_batches_tracked, I64) carry nothing a forward pass needs.
    if (dtype === 'I64') continue;
    const bytes = buf.subarray(dataStart + begin, dataStart + end);
    const count = shape.reduce((a, b) => a * b, 1);
    tensors.set(key, { dtype, shape, data: decode(bytes, dtype, count, key) });
  }
  return { tensors, metadata };
}

function decode(bytes: Buffer, dtype: string, count: number, key: string): Float32Array {
  const out = new Float32Array(count);
  const size = dtype === 'F32' ? 4 : 2;
  if (bytes.length !== count * size) throw new Error(`${key}: ${dtype} × ${count} needs ${count * size} bytes, found ${bytes.length}`);
  for (let i = 0; i < count; i++) {
    if (dtype === 'F32') out[i] = bytes.readFloatLE(4 * i);
    else if (dtype === 'F16') out[i] = halfToFloat(bytes.readUInt16LE(2 * i));
    else if (dtype === 'BF16') out[i] = bfloat16ToFloat(bytes.readUInt16LE(2 * i));
    else throw new Error(`${key}: unsupported dtype ${dtype}`);
  }
  return out;
}

/** IEEE binary16 → number, including subnormals, infinities and NaN. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** bfloat16 is the top half of a float32. */
function bfloat16ToFloat(h: number): number {
  const f = new Float32Array(1);
  new Uint32Array(f.buffer)[0] = h << 16;
  return f[0];
}
