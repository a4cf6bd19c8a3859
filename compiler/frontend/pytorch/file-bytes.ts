/**
 * Positioned, bounds-checked reads from an open checkpoint. Every part of the PyTorch reader goes
 * through here, so no damaged length field can make it read outside the file or allocate more than
 * the file could hold.
 */
import * as fs from 'node:fs';
import { VggcError } from '../../errors.js';

export interface OpenFile {
  readonly path: string;
  readonly fd: number;
  /** Size when it was opened; every offset is checked against it. */
  readonly size: number;
}

/** Throws the one-line user error every message of this reader uses: `<path>: <what went wrong>`. */
export function failIn(path: string, message: string): never {
  throw new VggcError(`${path}: ${message}`);
}

export function openForReading(path: string): OpenFile {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch (e) {
    return failIn(path, `cannot open checkpoint (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) failIn(path, 'is not a regular file');
    return { path, fd, size: stat.size };
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/** `length` bytes at `position`, in a fresh buffer (its own ArrayBuffer, so typed views are aligned). */
export function readAt(file: OpenFile, position: number, length: number, what: string): Uint8Array {
  const out = new Uint8Array(checkSpan(file, position, length, what));
  readInto(file, position, out, what);
  return out;
}

/** Fills `target` from `position`; the span must already lie inside the file (checkSpan). */
export function readInto(file: OpenFile, position: number, target: Uint8Array, what: string): void {
  checkSpan(file, position, target.length, what);
  let done = 0;
  while (done < target.length) {
    const n = fs.readSync(file.fd, target, done, target.length - done, position + done);
    // A 0 means the file shrank after it was opened.
    if (n === 0) failIn(file.path, `file is truncated: ${what} needs bytes ${position}..${position + target.length}, the file ends at ${position + done}`);
    done += n;
  }
}

/** Requires [position, position + length) to be inside the file; returns length. */
export function checkSpan(file: OpenFile, position: number, length: number, what: string): number {
  if (!(Number.isSafeInteger(position) && Number.isSafeInteger(length) && position >= 0 && length >= 0)) {
    failIn(file.path, `${what} has an invalid position ${position} or length ${length}`);
  }
  if (position + length > file.size) {
    failIn(file.path, `${what} (bytes ${position}..${position + length}) runs past the end of the file (${file.size} bytes)`);
  }
  return length;
}

/** A name from the file for a message: quoted, control characters escaped, cut short, so the message stays one line. */
export function quoted(name: string): string {
  return JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
}
