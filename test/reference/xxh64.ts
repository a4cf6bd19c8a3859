/**
 * XXH64 written straight from the specification (xxhash_spec.md) with BigInt: slow, obviously
 * right, no wasm. test/xxh64.test.ts compares runtime/format/xxh64.wat with it and with xxhsum.
 */
const M = (1n << 64n) - 1n;
const P1 = 0x9e3779b185ebca87n;
const P2 = 0xc2b2ae3d27d4eb4fn;
const P3 = 0x165667b19e3779f9n;
const P4 = 0x85ebca77c2b2ae63n;
const P5 = 0x27d4eb2f165667c5n;

const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & M;
const round = (acc: bigint, lane: bigint): bigint => (rotl((acc + lane * P2) & M, 31n) * P1) & M;
const merge = (h: bigint, v: bigint): bigint => (((h ^ round(0n, v)) * P1) + P4) & M;

export function xxh64Reference(bytes: Uint8Array, seed = 0n): string {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u64 = (at: number): bigint => view.getBigUint64(at, true);
  const len = bytes.length;
  let at = 0;
  let h: bigint;
  if (len >= 32) {
    let v1 = (seed + P1 + P2) & M, v2 = (seed + P2) & M, v3 = seed, v4 = (seed - P1) & M;
    for (; at + 32 <= len; at += 32) {
      v1 = round(v1, u64(at));
      v2 = round(v2, u64(at + 8));
      v3 = round(v3, u64(at + 16));
      v4 = round(v4, u64(at + 24));
    }
    h = (rotl(v1, 1n) + rotl(v2, 7n) + rotl(v3, 12n) + rotl(v4, 18n)) & M;
    for (const v of [v1, v2, v3, v4]) h = merge(h, v);
  } else {
    h = (seed + P5) & M;
  }
  h = (h + BigInt(len)) & M;
  for (; at + 8 <= len; at += 8) h = ((rotl(h ^ round(0n, u64(at)), 27n) * P1) + P4) & M;
  if (at + 4 <= len) {
    h = ((rotl(h ^ ((BigInt(view.getUint32(at, true)) * P1) & M), 23n) * P2) + P3) & M;
    at += 4;
  }
  for (; at < len; at++) h = (rotl(h ^ ((BigInt(bytes[at]) * P5) & M), 11n) * P1) & M;
  h = ((h ^ (h >> 33n)) * P2) & M;
  h = ((h ^ (h >> 29n)) * P3) & M;
  h ^= h >> 32n;
  return h.toString(16).padStart(16, '0');
}
