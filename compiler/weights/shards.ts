/**
 * Splits the packed payload into shard files as it is written (model.json `weights.shards`): shard
 * i holds payload bytes [i·size, (i+1)·size), raw, so the loader copies each one straight to its
 * place in wasm memory. Each shard's SHA-256 and XXH64, and the whole payload's SHA-256, are
 * computed on the way.
 */
import { createHash, type Hash } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { VggcError } from '../errors.js';
import type { WeightShard } from '../../runtime/format/manifest.js';
import { Xxh64 } from '../../runtime/format/xxh64.js';

/** `vggc compile --shard-size` default: under the 25 MiB per-file cap of Cloudflare Pages, few requests. */
export const DEFAULT_SHARD_BYTES = 16 * 1024 * 1024;
/** Smallest shard size accepted (0 aside): smaller would only multiply the requests. */
export const MIN_SHARD_BYTES = 4096;
/** The one file of `--shard-size 0`. */
export const UNSHARDED_FILE = 'weights.bin';

/** Shard file names sort in payload order: weights-000.bin, weights-001.bin, … */
export function shardFileName(index: number, count: number): string {
  return `weights-${String(index).padStart(Math.max(3, String(count - 1).length), '0')}.bin`;
}

export class ShardWriter {
  private readonly shards: WeightShard[] = [];
  private readonly payloadHash = createHash('sha256');
  private fd = -1;
  private path = '';
  private shardHash: Hash | null = null;
  private shardXxh: Xxh64 | null = null;
  private shardStart = 0;
  private pos = 0;
  private readonly count: number;
  private readonly written: string[] = [];

  /** `shardBytes` 0: one file. */
  constructor(private readonly dir: string, private readonly payloadBytes: number, private readonly shardBytes: number) {
    this.count = shardBytes === 0 ? (payloadBytes > 0 ? 1 : 0) : Math.ceil(payloadBytes / shardBytes);
  }

  private get size(): number {
    return this.shardBytes === 0 ? this.payloadBytes : this.shardBytes;
  }

  /** Appends payload bytes, starting a new shard at every shard boundary. */
  write(bytes: Uint8Array): void {
    this.payloadHash.update(bytes);
    let from = 0;
    while (from < bytes.length) {
      if (this.fd < 0) this.open();
      const room = this.shardStart + this.size - this.pos;
      const part = bytes.subarray(from, from + Math.min(room, bytes.length - from));
      this.writeFully(part);
      this.shardHash!.update(part);
      this.shardXxh!.update(part);
      this.pos += part.length;
      from += part.length;
      if (this.pos === this.shardStart + this.size || this.pos === this.payloadBytes) this.close();
    }
  }

  /** The shard list and the payload's SHA-256, once every payload byte was written. */
  finish(): { shards: WeightShard[]; sha256: string } {
    if (this.pos !== this.payloadBytes) throw new Error(`packed ${this.pos} of ${this.payloadBytes} payload bytes`);
    return { shards: this.shards, sha256: this.payloadHash.digest('hex') };
  }

  /** Removes every file written: never a partial set of shards that looks like a real one. */
  abort(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    for (const p of this.written) fs.rmSync(p, { force: true });
  }

  private open(): void {
    const index = this.shards.length;
    const file = this.shardBytes === 0 ? UNSHARDED_FILE : shardFileName(index, this.count);
    this.path = join(this.dir, file);
    try {
      this.fd = fs.openSync(this.path, 'w');
    } catch (e) {
      throw new VggcError(`${this.path}: cannot create weights file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
    this.written.push(this.path);
    this.shardStart = this.pos;
    this.shardHash = createHash('sha256');
    this.shardXxh = new Xxh64();
  }

  private close(): void {
    fs.closeSync(this.fd);
    this.fd = -1;
    const file = this.path.slice(this.dir.length + 1);
    this.shards.push({ file, offset: this.shardStart, bytes: this.pos - this.shardStart, sha256: this.shardHash!.digest('hex'), xxh64: this.shardXxh!.digest() });
  }

  /** Write failures (disk full, …) are the user's environment, so they get a one-line VggcError. */
  private writeFully(bytes: Uint8Array): void {
    try {
      for (let done = 0; done < bytes.length; ) done += fs.writeSync(this.fd, bytes, done, bytes.length - done);
    } catch (e) {
      throw new VggcError(`${this.path}: cannot write weights file (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
  }
}
