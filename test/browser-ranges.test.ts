/**
 * load/ranges.ts, the browser loader's parallel range fetches, run here on Node's fetch against
 * tools/serve.mjs (the workers path needs a browser: test/browser/ covers it): the bytes land where
 * they belong, progress adds up, and a server that ignores or shortens a range is a one-line error,
 * never a write past the destination.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyInRanges } from '../runtime/load/ranges.js';
import { rejection } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'vggc-ranges-'));
const file = randomBytes((40 << 20) + 12345); // more than RANGED_MIN_BYTES: two parts
writeFileSync(join(dir, 'w.bin'), file);

describe('copyInRanges', () => {
  let server: { url: string; close(): Promise<void> };
  let ignoring: Server;
  let ignoringUrl: string;
  beforeAll(async () => {
    // @ts-expect-error: a plain .mjs module without types
    const { startServer } = await import('../tools/serve.mjs');
    server = await startServer({ root: dir, port: 0 });
    // /w.bin: a server without range support (the whole file, status 200). /hidden and /short: 206
    // without a readable Content-Range (a cross-origin server that does not expose it), the asked
    // range or 10 bytes less.
    ignoring = createServer((req, res) => {
      const [, a, b] = /^bytes=(\d+)-(\d+)$/.exec(String(req.headers.range)) ?? [];
      if (req.url === '/w.bin' || a === undefined) return void res.end(file);
      res.writeHead(206);
      res.end(file.subarray(Number(a), Number(b) + 1 - (req.url === '/short' ? 10 : 0)));
    });
    await new Promise<void>((r) => ignoring.listen(0, '127.0.0.1', () => r()));
    ignoringUrl = `http://127.0.0.1:${(ignoring.address() as { port: number }).port}/w.bin`;
  });
  afterAll(async () => {
    await server?.close();
    ignoring?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('copies file bytes [start, start + length) to dest, in parts, reporting progress up to length', async () => {
    const memory = new WebAssembly.Memory({ initial: 1 + Math.ceil(file.length / 65536), maximum: 1 + Math.ceil(file.length / 65536), shared: true });
    const start = 64;
    const length = file.length - start;
    const progress: number[] = [];
    await copyInRanges(`${server.url}/w.bin`, memory, 65536, start, length, false, (done) => progress.push(done));
    expect(Buffer.from(memory.buffer, 65536, length).equals(file.subarray(start))).toBe(true);
    expect(new Uint8Array(memory.buffer, 0, 65536).every((b) => b === 0)).toBe(true);
    expect(progress.at(-1)).toBe(length);
    expect(progress.every((p, i) => i === 0 || p > progress[i - 1])).toBe(true);
  });

  it('refuses a server that ignores the range, or a file shorter than asked for, in one line', async () => {
    const memory = new WebAssembly.Memory({ initial: 1000, maximum: 1000, shared: true });
    expect(await rejection(copyInRanges(ignoringUrl, memory, 0, 64, 1 << 20, false, () => {}))).toMatch(/: asked for bytes 64–1048639, got HTTP 200 without Content-Range$/);
    expect(await rejection(copyInRanges(`${server.url}/w.bin`, memory, 0, file.length - 10, 100, false, () => {}))).toMatch(/: asked for bytes \d+–\d+, got HTTP 206 bytes \d+-\d+\/\d+$/);
    expect(await rejection(copyInRanges(`${server.url}/nope.bin`, memory, 0, 0, 100, false, () => {}))).toMatch(/got HTTP 404 without Content-Range$/);
    const base = ignoringUrl.replace(/\/w\.bin$/, '');
    expect(await rejection(copyInRanges(`${base}/short`, memory, 0, 64, 1000, false, () => {}))).toMatch(/: the range 64–1063 ended after 990 of 1000 bytes$/);
  });

  it('accepts a 206 whose Content-Range it cannot read, when the bytes are exactly those asked for', async () => {
    const memory = new WebAssembly.Memory({ initial: 16, maximum: 16, shared: true });
    const base = ignoringUrl.replace(/\/w\.bin$/, '');
    await copyInRanges(`${base}/hidden`, memory, 1024, 64, 100_000, false, () => {});
    expect(Buffer.from(memory.buffer, 1024, 100_000).equals(file.subarray(64, 100_064))).toBe(true);
  });
});
