/**
 * weights.bin = 64-byte header + payload.
 * Header: bytes 0–7 ASCII `VGGCWTS1`; 8–15 payload length (u64 LE); 16–47 SHA-256 of the payload;
 * 48–63 zero. The manifest and model.wasm's `vggc` custom section carry the same SHA-256, which is
 * how the runtime knows a model.wasm and a weights.bin belong together without hashing 500 MB at load.
 */
import { VggcError } from './errors.js';

export const WEIGHTS_MAGIC = 'VGGCWTS1';
export const WEIGHTS_HEADER_BYTES = 64;

export interface WeightsHeader {
  readonly payloadBytes: number;
  readonly sha256: string;
}

/**
 * The header of `file` checked against the manifest: the same compile (hash) and the payload size
 * model.json expects. Returns the payload size.
 */
export function checkWeightsHeader(header: Uint8Array, file: string, manifest: { weights: { sha256: string; payloadBytes: number } }, manifestLabel: string): number {
  const { payloadBytes, sha256 } = parseWeightsHeader(header, file);
  if (sha256 !== manifest.weights.sha256) {
    throw new VggcError(`${file}: belongs to a different compile than ${manifestLabel} (weights hash ${sha256.slice(0, 12)}…, expected ${manifest.weights.sha256.slice(0, 12)}…)`);
  }
  if (payloadBytes !== manifest.weights.payloadBytes) throw new VggcError(`${file}: holds ${payloadBytes} bytes of weights, model.json expects ${manifest.weights.payloadBytes}`);
  return payloadBytes;
}

export function parseWeightsHeader(header: Uint8Array, file: string): WeightsHeader {
  if (header.length < WEIGHTS_HEADER_BYTES) throw new VggcError(`${file}: too short for a weights file (${header.length} bytes)`);
  const magic = new TextDecoder('latin1').decode(header.subarray(0, 8));
  if (magic !== WEIGHTS_MAGIC) throw new VggcError(`${file}: not a vggc weights file (starts with ${JSON.stringify(magic)}, expected "${WEIGHTS_MAGIC}")`);
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const payloadBytes = Number(view.getBigUint64(8, true));
  const sha256 = Array.from(header.subarray(16, 48), (b) => b.toString(16).padStart(2, '0')).join('');
  return { payloadBytes, sha256 };
}
