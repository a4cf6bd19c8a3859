/**
 * Writes a .safetensors file from float32 data, optionally stored as F16 or BF16 (rounded to
 * nearest even). For tests and tools that need checkpoints; vggc itself only reads them.
 */
import * as fs from 'node:fs';
import { f32ToBf16Bits, f32ToF16Bits } from '../../weights/half.js';

export interface SafetensorsTensor {
  readonly key: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
  readonly dtype?: 'F32' | 'F16' | 'BF16';
}

export function writeSafetensors(path: string, tensors: readonly SafetensorsTensor[], metadata?: Record<string, string>): void {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  const encoded = tensors.map((t) => {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`${t.key}: shape [${t.shape}] has ${count} elements but data has ${t.data.length}`);
    const bytes = encode(t.data, t.dtype ?? 'F32');
    header[t.key] = { dtype: t.dtype ?? 'F32', shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    offset += bytes.length;
    return bytes;
  });
  // Pad the header with spaces (valid JSON whitespace) so the data region starts 8-byte aligned.
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  json = Buffer.concat([json, Buffer.alloc(padded - json.length, ' ')]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));

  const fd = fs.openSync(path, 'w');
  try {
    for (const b of [len, json, ...encoded]) fs.writeSync(fd, b);
  } finally {
    fs.closeSync(fd);
  }
}

/** Little-endian bytes of `data` in `dtype` (the host is little-endian; safetensors.ts checks). */
function encode(data: Float32Array, dtype: 'F32' | 'F16' | 'BF16'): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const half = new Uint16Array(data.length);
  const conv = dtype === 'F16' ? f32ToF16Bits : f32ToBf16Bits;
  for (let i = 0; i < data.length; i++) half[i] = conv(data[i]);
  return new Uint8Array(half.buffer);
}
