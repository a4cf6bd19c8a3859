/**
 * Node: the weight shards (manifest `weights.shards`) read straight into wasm memory, each to
 * weightsBase + its offset, and verified: every 1 MiB read is hashed (XXH64, format/xxh64.ts, on the
 * model's memory itself) right after the read, while it is still in the CPU cache. A bad shard fails
 * the load with its name before anything runs.
 *
 * Measured on VGG-11 (README, "Verification"): XXH64 in wasm runs at ~12 GB/s here, zlib's CRC-32
 * at ~4 GB/s, SHA-256 at ~1.5 GB/s. Checking on worker_threads while the main thread reads was tried
 * (with SHA-256 and CRC-32) and was no faster on the 2-core machine this was measured on (the
 * reads' page faults already keep both cores busy), so the check runs inline.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { VggcError } from '../format/errors.js';
import type { Manifest, WeightShard } from '../format/manifest.js';
import type { ProgressCallback } from '../format/progress.js';
import { shardMismatch, shardSizeError, type ShardCheck } from '../format/shards.js';
import { Xxh64OnMemory } from '../format/xxh64.js';

/** Bytes read at a time: the reads are page-cache copies, so a chunk is still in cache for its check. */
const CHUNK = 1 << 20;

export interface OpenShard {
  readonly shard: WeightShard;
  readonly path: string;
  readonly fd: number;
}

/**
 * Opens every shard and checks its size, before any memory is allocated: a missing or truncated
 * shard is a one-line error naming it. The caller closes them (closeShards).
 */
export function openShards(dir: string, manifest: Manifest): OpenShard[] {
  const opened: OpenShard[] = [];
  try {
    for (const shard of manifest.weights.shards) {
      const path = join(dir, shard.file);
      let fd: number;
      try {
        fd = openSync(path, 'r');
      } catch (e) {
        throw new VggcError(`${path}: cannot open (${(e as NodeJS.ErrnoException).code ?? e}); model.json lists it as a weights shard`);
      }
      opened.push({ shard, path, fd });
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw new VggcError(`${path}: is ${stat.isDirectory() ? 'a folder' : 'not a regular file'}; model.json lists it as a weights shard`);
      if (stat.size !== shard.bytes) throw shardSizeError(path, stat.size, shard.bytes);
    }
    return opened;
  } catch (e) {
    closeShards(opened);
    throw e;
  }
}

export function closeShards(opened: readonly OpenShard[]): void {
  for (const o of opened) closeSync(o.fd);
}

/** Reads (and checks, unless `check` is 'none') every shard into `memory` at weightsBase + offset. */
export function readShards(opened: readonly OpenShard[], memory: WebAssembly.Memory, manifest: Manifest, manifestLabel: string, check: ShardCheck, onProgress?: ProgressCallback): void {
  const total = manifest.weights.payloadBytes;
  let loaded = 0;
  if (total === 0) onProgress?.({ loadedBytes: 0, totalBytes: 0, cachedBytes: 0 });
  const hash = check === 'xxh64' ? new Xxh64OnMemory(memory) : null;
  for (const o of opened) {
    const start = manifest.memory.weightsBase + o.shard.offset;
    const view = new Uint8Array(memory.buffer, start, o.shard.bytes);
    hash?.reset(start);
    const sha = check === 'sha256' ? createHash('sha256') : null;
    for (let done = 0; done < view.length; ) {
      const n = readSync(o.fd, view, done, Math.min(CHUNK, view.length - done), done);
      if (n === 0) throw new VggcError(`${o.path}: ended after ${done} of ${view.length} bytes`);
      sha?.update(view.subarray(done, done + n));
      done += n;
      hash?.add(start + done);
    }
    if (hash && hash.digest() !== o.shard.xxh64) throw shardMismatch(o.path, 'XXH64', manifestLabel);
    if (sha && sha.digest('hex') !== o.shard.sha256) throw shardMismatch(o.path, 'SHA-256', manifestLabel);
    loaded += o.shard.bytes;
    onProgress?.({ loadedBytes: loaded, totalBytes: total, cachedBytes: 0 });
  }
}
