/**
 * Reading one weight's bytes out of its group's shards: the byte range [offset, offset + length)
 * of the group's stream may start in one shard and end in another (the converter cuts shards every
 * 4 MB regardless of weight boundaries). Each shard is opened for the read and closed after it, so
 * an imported model holds no file handles between reads.
 */
import * as fs from 'node:fs';
import { VggcError } from '../../errors.js';
import { quote } from './json-fields.js';
import type { WeightEntry } from './manifest.js';

/** Fills `into` with the weight's bytes [byteStart, byteStart + into.length). */
export function readWeightBytes(entry: WeightEntry, into: Uint8Array, modelPath: string, byteStart = 0): void {
  if (byteStart < 0 || byteStart + into.length > entry.byteLength) throw new RangeError(`readWeightBytes: bytes [${byteStart}, ${byteStart + into.length}) of ${entry.byteLength}`);
  const begin = entry.offset + byteStart;
  const end = begin + into.length;
  for (const shard of entry.group.shards) {
    const from = Math.max(begin, shard.start);
    const to = Math.min(end, shard.start + shard.bytes);
    if (from >= to) continue;
    readRange(shard.file, shard.path, shard.bytes, from - shard.start, into.subarray(from - begin, to - begin), entry.name, modelPath);
  }
}

function readRange(file: string, shownPath: string, expectedSize: number, position: number, into: Uint8Array, weight: string, modelPath: string): void {
  const fail = (msg: string): never => {
    throw new VggcError(`${modelPath}: weight ${quote(weight)}: shard ${quote(shownPath)} ${msg}`);
  };
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    return fail(`cannot be opened (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    // The size was checked against the manifest when the model was imported; a file rewritten since
    // must not be read past its (new) end or silently mixed with the old layout.
    const size = fs.fstatSync(fd).size;
    if (size !== expectedSize) fail(`is now ${size} bytes, but was ${expectedSize} when the model was imported (changed since?)`);
    let done = 0;
    while (done < into.length) {
      const n = fs.readSync(fd, into, done, into.length - done, position + done);
      if (n === 0) fail(`ends early at byte ${position + done} (truncated since the model was imported?)`);
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}
