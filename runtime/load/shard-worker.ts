/**
 * A Web Worker that fetches weight shards (load/shards-browser.ts hands them out one at a time):
 * from the Cache API or the network, straight into the model's shared memory, verified there
 * ('done'), then stored in the cache ('stored'): storing 531 MB took Chromium about as long as
 * fetching them, and the model need not wait for it.
 */
import { VggcError } from '../format/errors.js';
import { openShardCache, type ShardCache } from './shard-cache.js';
import { shardInto, type FromShardWorker, type ToShardWorker } from './shards-browser.js';

const post = (m: FromShardWorker): void => (self as unknown as Worker).postMessage(m);
/** Progress messages every this many bytes of a shard: often enough for a progress bar. */
const REPORT_BYTES = 256 << 10;

let cache: Promise<ShardCache | null> | null = null;

self.onmessage = async (e: MessageEvent<ToShardWorker>): Promise<void> => {
  const { source, memory, index, shard, dest } = e.data;
  const base = new URL(source.base);
  try {
    cache ??= source.cache ? openShardCache(base) : Promise.resolve(null);
    let sent = 0;
    const report = (i: number, bytes: number, fromCache: boolean): void => {
      if (bytes - sent < REPORT_BYTES && bytes < shard.bytes) return;
      sent = bytes;
      post({ type: 'progress', index: i, bytes, fromCache });
    };
    await shardInto(memory, dest, shard, index, { ...source, base }, await cache, report);
    post({ type: 'done', index });
    await (await cache)?.settled();
    post({ type: 'stored', index });
  } catch (err) {
    post({ type: 'error', message: String((err as Error)?.message ?? err), vggc: err instanceof VggcError });
  }
};
