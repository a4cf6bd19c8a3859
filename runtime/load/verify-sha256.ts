/** SHA-256 of a shard with WebCrypto (browsers, Workers, Deno, Bun, Node ≥ 20), checked against model.json. */
import { VggcError } from '../format/errors.js';
import { hex, shardMismatch } from '../format/shards.js';

/** Throws the shard's one-line error when `bytes` (not in shared memory: WebCrypto refuses it) do not hash to `expected`. */
export async function verifySha256(bytes: Uint8Array, expected: string, file: string, manifestLabel: string): Promise<void> {
  if (await sha256Hex(bytes, file) !== expected) throw shardMismatch(file, 'SHA-256', manifestLabel);
}

export async function sha256Hex(bytes: Uint8Array, file: string): Promise<string> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw new VggcError(`${file}: cannot be verified here: crypto.subtle is missing (browsers only offer it to https and localhost pages); pass verify: false to skip the check`);
  return hex(new Uint8Array(await subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>)));
}
