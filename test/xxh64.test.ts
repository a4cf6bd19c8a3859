// The XXH64 every loader checks shards with (runtime/format/xxh64.wat) against the specification's
// check values, a BigInt reference written from the specification, and Debian's xxhsum.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Xxh64, Xxh64OnMemory, xxh64 } from '../runtime/format/xxh64.js';
import { ROOT, tempDir } from './helpers.js';
import { xxh64Reference } from './reference/xxh64.js';

/** Deterministic bytes that are not all alike (a linear congruential generator). */
function bytesOf(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe('XXH64 (wasm)', () => {
  it('gives the check values of the xxHash sources', () => {
    expect(xxh64(new Uint8Array(0))).toBe('ef46db3751d8e999');
    expect(xxh64Reference(new Uint8Array(0))).toBe('ef46db3751d8e999');
    expect(xxh64(new TextEncoder().encode('abc'))).toBe('44bc2cf5ad770999');
    expect(xxh64Reference(new TextEncoder().encode('abc'))).toBe('44bc2cf5ad770999');
  });

  it('equals the reference at every length from 0 to 200, crossing each tail branch', () => {
    for (let n = 0; n <= 200; n++) {
      const b = bytesOf(n, n + 7);
      expect(xxh64(b), `length ${n}`).toBe(xxh64Reference(b));
    }
  });

  it('gives the same hash however the bytes are split (scratch copies and in-place pieces)', () => {
    const b = bytesOf(3 * (1 << 20) + 77, 3);
    const whole = xxh64Reference(b);
    expect(xxh64(b)).toBe(whole);
    const pieces = new Xxh64();
    for (let at = 0, k = 0; at < b.length; k++) {
      const n = Math.min(b.length - at, [1, 31, 33, 4096, 1 << 20, 999_999][k % 6]);
      pieces.update(b.subarray(at, at + n));
      at += n;
    }
    expect(pieces.digest()).toBe(whole);

    // In place, as the loaders use it: the bytes at an odd offset of a shared memory, added in uneven reads.
    const memory = new WebAssembly.Memory({ initial: 64, maximum: 64, shared: true });
    const start = 12345;
    new Uint8Array(memory.buffer).set(b, start);
    const inPlace = new Xxh64OnMemory(memory).reset(start);
    for (let end = start; end < start + b.length; ) {
      end = Math.min(start + b.length, end + 65_537);
      inPlace.add(end);
    }
    expect(inPlace.digest()).toBe(whole);
    // The same instance reused for the next shard after reset, as the Node loader does.
    const next = bytesOf(70_001, 11);
    const at = start + b.length + 3;
    new Uint8Array(memory.buffer).set(next, at);
    inPlace.reset(at);
    inPlace.add(at + 40_000);
    inPlace.add(at + next.length);
    expect(inPlace.digest()).toBe(xxh64Reference(next));
    // A new instance starts as a reset one; bytes cannot be added out of order.
    const fresh = new Xxh64OnMemory(memory);
    fresh.add(next.length);
    expect(fresh.digest()).toBe(xxh64Reference(new Uint8Array(memory.buffer).slice(0, next.length)));
    expect(() => fresh.add(10)).toThrow(/before the bytes already added/);
  });

  it('hashes bytes that end at the last byte of a 4 GiB memory (addresses above 2³¹, an end that wraps to 0)', () => {
    const pages = 65_536;
    const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    // 1077 bytes: the tail ends at 4 GiB; 4096: the stripe loop does.
    for (const n of [1077, 4096]) {
      const b = bytesOf(n, 5);
      const start = pages * 65_536 - b.length;
      new Uint8Array(memory.buffer).set(b, start);
      const h = new Xxh64OnMemory(memory).reset(start);
      h.add(start + 500);
      h.add(start + b.length);
      expect(h.digest(), `${n} bytes`).toBe(xxh64Reference(b));
    }
  });

  it('one flipped bit anywhere changes the hash', () => {
    const b = bytesOf(10_000, 9);
    const h = xxh64(b);
    for (const at of [0, 31, 32, 5000, 9_990, 9_999]) {
      const c = b.slice();
      c[at] ^= 1 << (at % 8);
      expect(xxh64(c)).not.toBe(h);
    }
  });
});

const xxhsum = spawnSync('xxhsum', ['--version'], { stdio: 'ignore' }).status === 0;
if (process.env.CI && !xxhsum) throw new Error('CI must have xxhsum (apt-get install xxhash)');

describe.runIf(xxhsum)('XXH64 against Debian\'s xxhsum', () => {
  it('prints what xxhsum -H1 prints for files of several sizes', () => {
    const dir = tempDir('vggc-xxh64-');
    for (const n of [0, 5, 31, 32, 1000, (1 << 20) + 3, 5 * (1 << 20) + 17]) {
      const b = bytesOf(n, n);
      const file = join(dir, `f${n}.bin`);
      writeFileSync(file, b);
      const out = spawnSync('xxhsum', ['-H1', file], { encoding: 'utf8' });
      expect(out.status).toBe(0);
      expect(xxh64(b), `${n} bytes`).toBe(out.stdout.split(/\s+/)[0]);
    }
  });
});

// Byte-identical output needs the binaryen version package-lock.json pins; after an upgrade, run
// npm run xxh64:wasm and let the tests above judge the new bytes.
describe('the wasm bytes in runtime/format/xxh64-wasm.ts', () => {
  it('are what runtime/format/xxh64.wat assembles to', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'tools/xxh64-wasm.mjs'), '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
