/**
 * Verified weight shards in the Cache API, keyed by the shard's URL and SHA-256
 * (`…/weights-003.bin?vggc-sha256=<hash>`): a recompiled model (new hashes) misses only the shards
 * that changed, and its old entries are dropped once it loaded. Every failure of the cache itself
 * (no Cache API, private mode, a full quota) falls back to the network with a console warning.
 */
import { VggcError } from '../format/errors.js';
import type { WeightShard } from '../format/manifest.js';

export const CACHE_NAME = 'vggc-weights-v1';
const HASH_PARAM = 'vggc-sha256';

export interface ShardCache {
  get(s: WeightShard): Promise<Uint8Array | null>;
  /** Stores in the background; settled() waits for it. */
  put(s: WeightShard, bytes: Uint8Array): void;
  delete(s: WeightShard): Promise<void>;
  /** Removes this model folder's entries for shards not in `keep` (an earlier compile's). */
  forgetOthers(keep: readonly WeightShard[]): Promise<void>;
  settled(): Promise<void>;
}

const warned = new Set<string>();
function warnOnce(what: string, e: unknown): void {
  const message = `vggc: ${what}: ${(e as Error)?.name ?? ''} ${(e as Error)?.message ?? String(e)}`.replace(/\s+/g, ' ').trim();
  if (warned.has(message)) return;
  warned.add(message);
  console.warn(message);
}

function cacheStorage(): CacheStorage | null {
  return typeof caches === 'undefined' ? null : caches;
}

/** The cache for the model folder at `base`, or null (with a warning) where there is none. */
export async function openShardCache(base: URL): Promise<ShardCache | null> {
  const storage = cacheStorage();
  if (!storage) return null; // not a secure context, or an engine without the Cache API: nothing to warn about
  let cache: Cache;
  try {
    cache = await storage.open(CACHE_NAME);
  } catch (e) {
    warnOnce('the Cache API is not usable here, weights come from the network', e);
    return null;
  }
  const keyOf = (s: WeightShard): string => {
    const u = new URL(s.file, base);
    u.searchParams.set(HASH_PARAM, s.sha256);
    return u.href;
  };
  const pending: Promise<unknown>[] = [];
  let full = false;
  return {
    async get(s) {
      try {
        const res = await cache.match(keyOf(s));
        if (!res) return null;
        const bytes = new Uint8Array(await res.arrayBuffer());
        return bytes.length === s.bytes ? bytes : null;
      } catch (e) {
        warnOnce('cannot read a cached weights shard, fetching it', e);
        return null;
      }
    },
    put(s, bytes) {
      if (full) return;
      const res = new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(bytes.length) } });
      pending.push(
        cache.put(keyOf(s), res).catch((e) => {
          full = true;
          warnOnce(`cannot store weights in the browser's cache (${(e as Error)?.name === 'QuotaExceededError' ? 'storage quota full' : 'refused'}); the next visit downloads them again`, e);
        }),
      );
    },
    async delete(s) {
      await cache.delete(keyOf(s)).catch(() => false);
    },
    async forgetOthers(keep) {
      const wanted = new Set(keep.map(keyOf));
      try {
        for (const req of await cache.keys()) {
          if (inFolder(req.url, base) && !wanted.has(req.url)) pending.push(cache.delete(req).catch(() => false));
        }
      } catch (e) {
        warnOnce('cannot list the cached weights', e);
      }
    },
    async settled() {
      await Promise.all(pending);
    },
  };
}

/** A shard entry of the model folder `base` itself, not of a folder inside it. */
function inFolder(url: string, base: URL): boolean {
  const u = new URL(url);
  if (!u.searchParams.has(HASH_PARAM) || u.origin !== base.origin || !u.pathname.startsWith(base.pathname)) return false;
  return !u.pathname.slice(base.pathname.length).includes('/');
}

/**
 * Removes every cached weights shard of the model folder at `folder` (a URL as loadModel takes),
 * and returns how many entries were removed.
 */
export async function clearFolderCache(folder: URL): Promise<number> {
  const storage = cacheStorage();
  try {
    if (!storage || !(await storage.has(CACHE_NAME))) return 0;
    const cache = await storage.open(CACHE_NAME);
    let removed = 0;
    for (const req of await cache.keys()) {
      if (inFolder(req.url, folder) && (await cache.delete(req))) removed++;
    }
    return removed;
  } catch (e) {
    // A profile out of space or a storage the browser refuses: one line, not the engine's exception.
    throw new VggcError(`clearCache(${folder.href}): the browser's cache cannot be read (${`${(e as Error)?.name ?? ''} ${(e as Error)?.message ?? String(e)}`.replace(/\s+/g, ' ').trim()})`);
  }
}
