/**
 * Writes the weights payload as shard files (shards.ts; format in layout.ts): every tensor in its
 * packed layout at its planned offset, gaps zero-filled. Streams: tensors are read 8 output rows at a
 * time (one [Ci][3][3] or [I] slice per output channel), so memory stays at a few MB even for VGG's
 * 411 MB first classifier matrix. The hashes of the payload and of each shard are computed on the way.
 */
import { VggcError } from '../errors.js';
import { layoutName, OUT_BLOCK, packedByteLength, TENSOR_ALIGN, type PackedTensor, type WeightsDtype } from './layout.js';
import type { WeightSource } from './source.js';
import { int8Scale, quantizeInt8, roundRows, toF16 } from './quantize.js';
import { MIN_SHARD_BYTES, ShardWriter } from './shards.js';
import type { WeightShard } from '../../runtime/format/manifest.js';

/** Bytes written between two yields to the event loop (a few milliseconds of work). */
const YIELD_BYTES = 8 * 1024 * 1024;

export interface PackResult {
  /** Hex SHA-256 of the whole payload (the shards in order). */
  readonly sha256: string;
  readonly payloadBytes: number;
  readonly shards: readonly WeightShard[];
}

/** `--shard-size`: 0 (one file) or at least MIN_SHARD_BYTES. */
export function checkShardBytes(shardBytes: number): void {
  if (!Number.isSafeInteger(shardBytes) || shardBytes < 0 || (shardBytes > 0 && shardBytes < MIN_SHARD_BYTES)) {
    throw new VggcError(`shard size must be 0 (one weights file) or at least ${MIN_SHARD_BYTES} bytes, found ${shardBytes}`);
  }
}

/**
 * One long sequential write. It yields to the event loop every few MB, so that Ctrl-C during a
 * 500 MB pack is handled at once (the output folder's signal handler removes the staging folder).
 */
export async function packWeights(
  source: WeightSource,
  tensors: readonly PackedTensor[],
  payloadBytes: number,
  outDir: string,
  shardBytes: number,
  onProgress?: (doneBytes: number, totalBytes: number) => void,
): Promise<PackResult> {
  checkPlan(tensors, payloadBytes);
  checkShardBytes(shardBytes);
  const out = new ShardWriter(outDir, payloadBytes, shardBytes);
  let pos = 0; // payload bytes written so far
  let sinceYield = 0;
  const write = (bytes: Uint8Array) => {
    out.write(bytes);
    pos += bytes.length;
    sinceYield += bytes.length;
    onProgress?.(pos, payloadBytes);
  };
  const maybeYield = async (): Promise<void> => {
    if (sinceYield < YIELD_BYTES) return;
    sinceYield = 0;
    await new Promise((resolve) => setImmediate(resolve));
  };
  const zeros = new Uint8Array(1 << 20);
  const zeroFill = (upTo: number) => {
    while (pos < upTo) write(zeros.subarray(0, Math.min(zeros.length, upTo - pos)));
  };
  // int8 scales computed while packing a weight, written by its scale-q8-pad8 tensor (planned after it).
  const scales = new Map<string, Float32Array>();
  try {
    for (const t of tensors) {
      zeroFill(t.offset);
      await packTensor(source, t, write, maybeYield, scales);
      // Only the bias and int8-scales layouts end on padding the packer itself did not write.
      zeroFill(t.offset + t.byteLength);
    }
    zeroFill(payloadBytes);
    const { shards, sha256 } = out.finish();
    return { sha256, payloadBytes, shards };
  } catch (e) {
    // Never leave half-written shards that look like real ones.
    out.abort();
    throw e;
  }
}

/**
 * Writes one tensor. Every blocked layout is "blocks of 8 output rows, interleaved": for conv the row
 * is [Ci][3][3] and the block is stored [3][3][Ci][8], for linear the row is [I] and the block [I][8].
 * Rows past the end of the tensor (last block) are zero.
 */
async function packTensor(source: WeightSource, t: PackedTensor, write: (b: Uint8Array) => void, maybeYield: () => Promise<void>, scales: Map<string, Float32Array>): Promise<void> {
  const shape = t.param.shape;
  const rows = shape[0];
  const key = t.param.key;
  const layout = t.layout;
  const roundedTo = layout.op === 'conv3x3' ? layout.roundedTo : undefined;
  const read = (r0: number, r1: number, rowLen: number): Float32Array => {
    const a = source.readRows(t.param, r0, r1);
    if (a.length !== (r1 - r0) * rowLen) throw new Error(`${source.description} gave ${a.length} values for rows [${r0}, ${r1}) of ${key}`);
    if (roundedTo) roundRows(a, rowLen, roundedTo, { tensor: key, offset: r0 * rowLen }); // the rows are ours (WeightSource)
    return a;
  };
  switch (layout.op) {
    case 'bias':
      write(bytesOf(read(0, rows, 1)));
      return;
    case 'winograd':
      // Transformed filters are computed at load from the 3×3 ones (plan/weights.ts), never stored.
      throw new Error(`${key}: the planner asked to pack transformed Winograd filters, which are computed at load`);
    case 'int8-scales': {
      const s = scales.get(key);
      if (!s) throw new Error(`${key}: scales planned before the int8 weights they belong to`);
      write(bytesOf(s));
      return;
    }
    case 'conv3x3':
    case 'linear':
      await packBlocks(t, layout.op === 'conv3x3', layout.dtype, read, write, maybeYield, scales);
  }
}

/** The blocked layouts, 8 output rows at a time; int8/f16 rows are quantised before they are interleaved. */
async function packBlocks(
  t: PackedTensor,
  conv: boolean,
  dtype: WeightsDtype,
  read: (r0: number, r1: number, rowLen: number) => Float32Array,
  write: (b: Uint8Array) => void,
  maybeYield: () => Promise<void>,
  scales: Map<string, Float32Array>,
): Promise<void> {
  const shape = t.param.shape;
  const rows = shape[0];
  const key = t.param.key;
  const rowLen = shape.slice(1).reduce((a, b) => a * b, 1);
  const inner = conv ? shape[1] : 1; // Ci, or 1 for linear
  const taps = conv ? 9 : shape[1]; // ky·3+kx, or i for linear
  const block = dtype === 'int8' ? new Int8Array(rowLen * OUT_BLOCK) : dtype === 'f16' ? new Uint16Array(rowLen * OUT_BLOCK) : new Float32Array(rowLen * OUT_BLOCK);
  const row = dtype === 'int8' ? new Int8Array(rowLen) : dtype === 'f16' ? new Uint16Array(rowLen) : null;
  const rowScales = dtype === 'int8' ? new Float32Array(rows) : null;
  if (rowScales) scales.set(key, rowScales);
  for (let r0 = 0; r0 < rows; r0 += OUT_BLOCK) {
    const n = Math.min(OUT_BLOCK, rows - r0);
    const src = read(r0, r0 + n, rowLen);
    if (n < OUT_BLOCK) block.fill(0);
    // src[j][c][tap] → block[tap][c][j]  (conv: c = ci, tap = ky·3+kx; linear: c = 0, tap = i)
    for (let j = 0; j < n; j++) {
      let from = j * rowLen;
      let values: ArrayLike<number> = src;
      if (row) {
        // Quantised rows: converted first, then interleaved like the f32 ones.
        const f = src.subarray(from, from + rowLen);
        const at = { tensor: key, offset: (r0 + j) * rowLen };
        if (row instanceof Int8Array) {
          const scale = int8Scale(f, at);
          rowScales![r0 + j] = scale;
          quantizeInt8(f, scale, row);
        } else toF16(f, row, at);
        values = row;
        from = 0;
      }
      for (let c = 0; c < inner; c++) {
        const at = from + c * taps;
        for (let tap = 0; tap < taps; tap++) block[(tap * inner + c) * OUT_BLOCK + j] = values[at + tap];
      }
    }
    write(new Uint8Array(block.buffer, block.byteOffset, block.byteLength));
    await maybeYield();
  }
}

/** The offsets come from the planner; if they are inconsistent that is a vggc bug, not user error. */
function checkPlan(tensors: readonly PackedTensor[], payloadBytes: number): void {
  if (!Number.isSafeInteger(payloadBytes) || payloadBytes < 0) throw new Error(`bad payload size ${payloadBytes}`);
  let end = 0;
  for (const t of tensors) {
    const key = t.param.key;
    const s = t.param.shape;
    const op = t.layout.op;
    const shapeOk = op === 'conv3x3' || op === 'winograd' ? s.length === 4 && s[2] === 3 && s[3] === 3 : op === 'int8-scales' ? s.length >= 2 : s.length === (op === 'linear' ? 2 : 1);
    if (!shapeOk) throw new Error(`${key}: shape [${s}] does not fit layout ${layoutName(t.layout)}`);
    if (t.layout.op === 'winograd' && t.layout.inChannelsPadded < s[1]) throw new Error(`${key}: inChannelsPadded ${t.layout.inChannelsPadded} < ${s[1]} input channels`);
    const expected = packedByteLength(t.param, t.layout);
    if (t.byteLength !== expected) throw new Error(`${key}: byteLength ${t.byteLength} ≠ packed size ${expected}`);
    if (!Number.isSafeInteger(t.offset) || t.offset % TENSOR_ALIGN !== 0) throw new Error(`${key}: offset ${t.offset} is not a multiple of ${TENSOR_ALIGN}`);
    if (t.offset < end) throw new Error(`${key}: offset ${t.offset} is before the end (${end}) of the previous tensor: not sorted or overlapping`);
    end = t.offset + t.byteLength;
    if (end > payloadBytes) throw new Error(`${key}: ends at ${end}, beyond the ${payloadBytes}-byte payload`);
  }
}

const bytesOf = (a: Float32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
