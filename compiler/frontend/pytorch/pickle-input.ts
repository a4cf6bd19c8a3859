/**
 * The bytes a pickle is read from: a member already in memory (zip's data.pkl), or a stretch of an
 * open file read in chunks (the legacy format's consecutive pickles, whose ends are only known by
 * parsing them). Both refuse a length that runs past the end before allocating anything for it.
 */
import { readAt, type OpenFile } from './file-bytes.js';

export interface PickleInput {
  /** Offset of the next byte, from the start of the file or member (for messages). */
  readonly position: number;
  /** Bytes left before the end of the member or file; a length field larger than this is damage. */
  remaining(): number;
  byte(): number;
  /** The next `n` bytes; the caller must not keep a view it did not copy (the chunk is reused). */
  bytes(n: number): Uint8Array;
}

/** Thrown when the data ends in the middle of an opcode; the unpickler turns it into its message. */
export class PickleEnd extends Error {}

export function memoryInput(data: Uint8Array): PickleInput {
  let pos = 0;
  return {
    get position() {
      return pos;
    },
    remaining: () => data.length - pos,
    byte() {
      if (pos >= data.length) throw new PickleEnd();
      return data[pos++];
    },
    bytes(n) {
      if (n > data.length - pos) throw new PickleEnd();
      pos += n;
      return data.subarray(pos - n, pos);
    },
  };
}

const CHUNK = 1 << 16;

/** Sequential reads from `start`, 64 KiB at a time; strings longer than a chunk are read on their own. */
export function fileInput(file: OpenFile, start: number): PickleInput {
  let chunk: Uint8Array = new Uint8Array(0);
  let chunkStart = start;
  let pos = start;
  const refill = (need: number): void => {
    if (need > file.size - pos) throw new PickleEnd();
    chunkStart = pos;
    chunk = readAt(file, pos, Math.min(file.size - pos, Math.max(CHUNK, need)), 'pickle');
  };
  return {
    get position() {
      return pos;
    },
    remaining: () => file.size - pos,
    byte() {
      if (pos - chunkStart >= chunk.length) refill(1);
      return chunk[pos++ - chunkStart];
    },
    bytes(n) {
      if (pos + n > chunkStart + chunk.length) refill(n);
      const at = pos - chunkStart;
      pos += n;
      return chunk.subarray(at, at + n);
    },
  };
}
