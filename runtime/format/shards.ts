/**
 * The weights as shards (manifest `weights.shards`): checks of the list, shared by every loader, and
 * the one-line errors a damaged shard gives. Plain code, no Node built-ins.
 */
import { VggcError } from './errors.js';
import type { WeightShard } from './manifest.js';

/** Most shards a manifest may list: far more than any VGG needs at the smallest shard size. */
export const MAX_SHARDS = 100_000;

/**
 * The shards must tile the payload exactly, in order: shard i starts where shard i − 1 ends, the
 * last ends at payloadBytes. Anything else would leave weights unset or write outside them.
 */
export function checkShards(shards: unknown, payloadBytes: number, reserved: readonly string[], fail: (msg: string) => never): void {
  if (!Array.isArray(shards)) fail('weights.shards must be a list (a manifest older than format 3? recompile the model)');
  const list = shards as unknown[];
  if (list.length > MAX_SHARDS) fail(`weights.shards lists ${list.length} shards, more than ${MAX_SHARDS}`);
  if (list.length === 0 && payloadBytes > 0) fail(`weights.shards is empty but the payload is ${payloadBytes} bytes`);
  const names = new Set<string>(reserved);
  let end = 0;
  list.forEach((raw, i) => {
    const at = `weights.shards[${i}]`;
    if (typeof raw !== 'object' || raw === null) fail(`${at} must be an object, found ${JSON.stringify(raw)}`);
    const s = raw as WeightShard;
    if (!isPlainFileName(s.file)) fail(`${at}.file ${JSON.stringify(s.file)} must be a plain name inside the model folder`);
    if (names.has(s.file)) fail(`${at}.file ${JSON.stringify(s.file)} is used twice`);
    names.add(s.file);
    for (const [field, v] of [['offset', s.offset], ['bytes', s.bytes]] as const) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < (field === 'bytes' ? 1 : 0)) fail(`${at}.${field} must be an integer ≥ ${field === 'bytes' ? 1 : 0}, found ${JSON.stringify(v)}`);
    }
    if (s.offset + s.bytes > payloadBytes) fail(`${at} (${s.file}, payload bytes ${s.offset}–${s.offset + s.bytes}) lies outside the ${payloadBytes}-byte payload`);
    if (s.offset !== end) fail(`${at} (${s.file}) starts at payload byte ${s.offset}, expected ${end} (the shards must follow each other without gaps or overlaps)`);
    end = s.offset + s.bytes;
    if (typeof s.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(s.sha256)) fail(`${at}.sha256 must be 64 hex digits`);
    if (typeof s.xxh64 !== 'string' || !/^[0-9a-f]{16}$/.test(s.xxh64)) fail(`${at}.xxh64 must be 16 hex digits`);
  });
  if (end !== payloadBytes) fail(`weights.shards end at payload byte ${end}, but the payload is ${payloadBytes} bytes`);
}

export function isPlainFileName(f: unknown): f is string {
  return typeof f === 'string' && f.length <= 255 && /^[\w.-]+$/.test(f) && !f.startsWith('.');
}

/**
 * loadModel's `verify`: `true` (the default) checks each shard's XXH64, `'sha256'` its SHA-256 (for
 * shards from a host trusted less than model.json: XXH64 catches damage, not a forged shard), `false`
 * nothing.
 */
export type VerifyOption = boolean | 'sha256';
/** What a loader checks each shard with. */
export type ShardCheck = 'xxh64' | 'sha256' | 'none';

export function shardCheck(verify: unknown): ShardCheck {
  if (verify === undefined || verify === true) return 'xxh64';
  if (verify === false) return 'none';
  if (verify === 'sha256') return 'sha256';
  throw new VggcError(`loadModel: verify must be true, false or "sha256", found ${JSON.stringify(verify)}`);
}

/** A shard whose bytes are not the ones model.json records. */
export function shardMismatch(file: string, check: 'SHA-256' | 'XXH64', manifestLabel: string): VggcError {
  return new VggcError(`${file}: does not match the ${check} that ${manifestLabel} records (damaged, or from another compile); nothing was loaded`);
}

/** A shard whose size is wrong. */
export function shardSizeError(file: string, size: number, expected: number): VggcError {
  return new VggcError(`${file}: is ${size} bytes, expected ${expected} (${size < expected ? 'truncated' : 'padded'})`);
}

/** Lower-case hex of bytes (a digest). */
export function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}
