/** tools/serve.mjs: isolation headers on every response, MIME types, no paths outside the root, `/` → the demo, throttling. */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './browser-env.js';

function get(port: number, path: string, extra: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    // A raw path: URL normalisation in a client would hide `..` from the server.
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', headers: extra }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('tools/serve.mjs', () => {
  let server: { port: number; close(): Promise<void> };
  beforeAll(async () => {
    // @ts-expect-error: a plain .mjs module without types
    const { startServer } = await import('../../tools/serve.mjs');
    server = await startServer({ root: ROOT, port: 0 });
  });
  afterAll(async () => server?.close());

  it('sends COOP, COEP and CORP on every response, 404s included, with the right types', async () => {
    for (const [path, status, type] of [
      ['/examples/browser/index.html', 200, 'text/html'],
      ['/examples/browser/demo.js', 200, 'text/javascript'],
      ['/tools/serve.mjs', 200, 'text/javascript'],
      ['/package.json', 200, 'application/json'],
      ['/examples/fashion-mnist/samples/000-ankle-boot.png', 200, 'image/png'],
      ['/no/such/file.wasm', 404, 'text/plain'],
    ] as const) {
      const r = await get(server.port, path);
      expect(r.status, path).toBe(status);
      expect(String(r.headers['content-type']), path).toContain(type);
      expect(r.headers['cross-origin-opener-policy'], path).toBe('same-origin');
      expect(r.headers['cross-origin-embedder-policy'], path).toBe('require-corp');
      expect(r.headers['cross-origin-resource-policy'], path).toBe('same-origin');
    }
  });

  it('serves .wasm as application/wasm', async () => {
    const r = await get(server.port, '/node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('application/wasm');
  });

  it('answers one byte range with 206 and Content-Range, 416 past the end', async () => {
    const whole = readFileSync(join(ROOT, 'package.json'));
    const r = await get(server.port, '/package.json', { Range: 'bytes=10-29' });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe(`bytes 10-29/${whole.length}`);
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(r.body.equals(whole.subarray(10, 30))).toBe(true);
    const open = await get(server.port, '/package.json', { Range: `bytes=${whole.length - 5}-` });
    expect([open.status, open.body.equals(whole.subarray(whole.length - 5))]).toEqual([206, true]);
    const past = await get(server.port, '/package.json', { Range: `bytes=${whole.length}-` });
    expect([past.status, past.headers['content-range']]).toEqual([416, `bytes */${whole.length}`]);
    const plain = await get(server.port, '/package.json');
    expect([plain.status, plain.body.equals(whole)]).toEqual([200, true]);
  });

  it('refuses paths outside the root', async () => {
    // Dot segments (plain or %2e) are resolved by URL parsing to /etc/passwd under the root: not found.
    // Encoded slashes survive parsing and reach the server's own traversal check: forbidden.
    const cases = [
      { path: '/../../etc/passwd', status: 404 },
      { path: '/%2e%2e/%2e%2e/etc/passwd', status: 404 },
      { path: '/examples/..%2f..%2f..%2fetc/passwd', status: 403 },
      { path: '/..%2f..%2fetc/passwd', status: 403 },
    ];
    for (const { path, status } of cases) {
      const r = await get(server.port, path);
      expect(r.status, path).toBe(status);
      expect(r.headers['cross-origin-embedder-policy'], path).toBe('require-corp');
    }
  });

  it('redirects / to the demo page, which exists', async () => {
    const r = await get(server.port, '/');
    expect(r.status).toBe(302);
    expect(r.headers.location).toBe('/examples/browser/index.html');
    expect(r.headers['cross-origin-embedder-policy']).toBe('require-corp');
    expect((await get(server.port, String(r.headers.location))).status).toBe(200);
  });

  it('throttle paces file bodies and still sends every byte', async () => {
    // @ts-expect-error: a plain .mjs module without types
    const { startServer } = await import('../../tools/serve.mjs');
    const slow = await startServer({ root: ROOT, port: 0, throttle: 64 * 1024 });
    try {
      const whole = readFileSync(join(ROOT, 'package-lock.json')).subarray(0, 64 * 1024);
      const chunks: number[] = [];
      const body = await new Promise<Buffer>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: slow.port, path: '/package-lock.json', headers: { Range: `bytes=0-${whole.length - 1}` } }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => (parts.push(c), chunks.push(c.length)));
          res.on('end', () => resolve(Buffer.concat(parts)));
        });
        req.on('error', reject);
        req.end();
      });
      expect(body.equals(whole)).toBe(true);
      // 16 KiB pieces, sent one at a time (a count, not a duration: no timing assertion).
      expect(chunks.length).toBeGreaterThanOrEqual(4);
    } finally {
      await slow.close();
    }
  });
});
