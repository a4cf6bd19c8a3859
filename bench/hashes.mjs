// @ts-check
/**
 * The checks a loader could run on each shard, on 1 MiB already in cache (what the Node loader hashes
 * right after each read): XXH64 in wasm on a shared memory (runtime/format/xxh64.ts, what vggc
 * uses), zlib's CRC-32 and SHA-256 (node:crypto, the same code as WebCrypto's in Node). Best of 9
 * rounds of 300 MiB each, GB/s.
 *
 *   npm run build && node bench/hashes.mjs
 */
import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';
import { importDist } from './common.mjs';

const { Xxh64OnMemory } = await importDist('runtime/format/xxh64.js');
const MIB = 1 << 20;
const memory = new WebAssembly.Memory({ initial: 16, maximum: 16, shared: true });
const bytes = new Uint8Array(memory.buffer, 0, MIB);
for (let i = 0; i < bytes.length; i++) bytes[i] = Math.imul(i, 2654435761) >>> 24;
const plain = bytes.slice();

/** @param {string} name @param {() => void} once */
function rate(name, once) {
  let best = Infinity;
  for (let r = 0; r < 9; r++) {
    const t = performance.now();
    for (let i = 0; i < 300; i++) once();
    best = Math.min(best, performance.now() - t);
  }
  console.log(`${name.padEnd(34)} ${((300 * MIB) / best / 1e6).toFixed(1)} GB/s`);
}
console.log(`Node ${process.version}`);
const xxh = new Xxh64OnMemory(memory);
rate('XXH64, wasm on the shared memory', () => (xxh.reset(0).add(MIB), xxh.digest()));
if ('crc32' in zlib) rate('CRC-32, zlib.crc32', () => /** @type {any} */ (zlib).crc32(plain));
rate('SHA-256, node:crypto', () => createHash('sha256').update(plain).digest());
