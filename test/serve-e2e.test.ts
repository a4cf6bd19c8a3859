/**
 * `vggc serve` as a user runs it (the built CLI in a child process) on the Fashion-MNIST example:
 * every answer has the bits of `vggc run` on that image alone, under 1, 8 and 64 concurrent clients
 * and batched; bad requests interleaved with good ones; classify equals predict --json; start-up
 * refusals are one line.
 */
import { cpSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { asBody, binaryRequest, CLI, compileFashion, decodeResponse, FASHION, FASHION_NAME, fashionSamples, jsonRequest, metric, run, sameBits, startServe, stopServe, type Samples, type ServeProcess } from './serve-helpers.js';

let dir: string;
let tmp: string;
let samples: Samples;
let server: ServeProcess;

beforeAll(async () => {
  tmp = tempDir('vggc-serve-e2e-');
  dir = await compileFashion(tmp);
  samples = await fashionSamples(dir, tmp);
  server = await startServe([dir, '--max-batch', '8', '--batch-window-ms', '2', '--max-body', '256KiB']);
});
afterAll(async () => {
  if (server) expect(await stopServe(server)).toBe(0);
});

type Kind = 'json' | 'binary' | 'binary-in-json-out' | 'raw' | 'pair';
const KINDS: Kind[] = ['json', 'binary', 'binary-in-json-out', 'raw', 'pair'];

/** Sends image `i` (and i+1 for `pair`) as `kind`; returns whether every row had the bits of vggc run. */
async function inferCorrect(url: string, i: number, kind: Kind): Promise<boolean> {
  const ids = kind === 'pair' ? [i, (i + 1) % samples.images.length] : [i];
  const imgs = ids.map((k) => samples.images[k]);
  let body: string | Buffer;
  let headers: Record<string, string> = { 'content-type': 'application/json' };
  if (kind === 'json' || kind === 'pair') body = jsonRequest(imgs);
  else if (kind === 'raw') {
    body = Buffer.from(imgs[0].buffer.slice(0));
    headers = { 'content-type': 'application/octet-stream', 'inference-header-content-length': '0' };
  } else ({ body, headers } = binaryRequest(imgs, kind === 'binary'));
  const res = await fetch(`${url}/v2/models/${FASHION_NAME}/infer`, { method: 'POST', body: asBody(body), headers });
  if (res.status !== 200) return false;
  const { outputs } = decodeResponse(Buffer.from(await res.arrayBuffer()), res.headers.get('inference-header-content-length'));
  return ids.every((k, row) => sameBits(outputs.logits.data.subarray(row * 10, (row + 1) * 10), samples.logits[k]));
}

/** `clients` loops sharing `total` requests; resolves with how many answers were wrong. */
async function load(clients: number, total: number, request: (n: number) => Promise<boolean>): Promise<number> {
  let next = 0;
  let wrong = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) if (!(await request(next++))) wrong++;
    }),
  );
  return wrong;
}

describe('answers equal vggc run on each image alone, bitwise', () => {
  it('the references: vggc run gave 50 sets of 10 logits', () => {
    expect(samples.logits).toHaveLength(50);
    for (const l of samples.logits) expect(l).toHaveLength(10);
  });

  for (const clients of [1, 8, 64]) {
    it(`${clients} concurrent client(s), JSON and binary, one and two images per request`, async () => {
      const before = await (await fetch(`${server.url}/metrics`)).text();
      const total = Math.max(100, clients * 4);
      expect(await load(clients, total, (n) => inferCorrect(server.url, n % 50, KINDS[n % KINDS.length]))).toBe(0);
      const after = await (await fetch(`${server.url}/metrics`)).text();
      // No series before the first batch: count that as 0.
      const series = (t: string, s: string) => metric(t, `vggc_batch_size_${s}{model="${FASHION_NAME}"}`) || 0;
      const batches = series(after, 'count') - series(before, 'count');
      const images = series(after, 'sum') - series(before, 'sum');
      expect(images).toBe(total + Math.floor((total + 1) / KINDS.length)); // every fifth request (n % 5 = 4) carries two images
      // With many clients requests really were batched together (and the answers above still matched).
      if (clients === 64) expect(images / batches).toBeGreaterThan(1.5);
    });
  }
});

describe('bad requests interleaved with good ones', () => {
  const good = { name: 'input', shape: [1, 1, 32, 32], datatype: 'FP32' };
  const image = () => Array.from(samples.images[0]);
  const bad: [string, number, () => { body: string | Buffer; headers?: Record<string, string>; path?: string }][] = [
    ['malformed JSON', 400, () => ({ body: '{"inputs": [{"name": "input",' })],
    ['wrong datatype', 400, () => ({ body: JSON.stringify({ inputs: [{ ...good, datatype: 'INT64', data: image() }] }) })],
    ['wrong shape', 400, () => ({ body: JSON.stringify({ inputs: [{ ...good, shape: [1, 1, 28, 28], data: image().slice(0, 784) }] }) })],
    ['wrong data length', 400, () => ({ body: JSON.stringify({ inputs: [{ ...good, data: image().slice(0, 1000) }] }) })],
    ['a non-number', 400, () => ({ body: JSON.stringify({ inputs: [{ ...good, data: [...image().slice(1), true] }] }) })],
    ['unknown input name', 400, () => ({ body: JSON.stringify({ inputs: [{ ...good, name: 'images', data: image() }] }) })],
    ['unknown model', 404, () => ({ body: jsonRequest([samples.images[0]]), path: '/v2/models/resnet/infer' })],
    ['binary size mismatch', 400, () => ({ body: Buffer.concat([Buffer.from('{"inputs":[{"name":"input","shape":[1,1,32,32],"datatype":"FP32","parameters":{"binary_data_size":4096}}]}'), Buffer.alloc(4000)]), headers: { 'inference-header-content-length': '98' } })],
    ['over --max-body', 413, () => ({ body: Buffer.alloc(300 * 1024, 0x20) })],
  ];

  it('every good request is answered correctly, every bad one with its status and one line; the server stays up', async () => {
    const failures: string[] = [];
    const total = 400;
    const wrong = await load(32, total, async (n) => {
      if (n % 3 !== 0) return inferCorrect(server.url, n % 50, KINDS[n % KINDS.length]);
      const [what, status, make] = bad[(n / 3) % bad.length];
      const { body, headers = { 'content-type': 'application/json' }, path = `/v2/models/${FASHION_NAME}/infer` } = make();
      const res = await fetch(`${server.url}${path}`, { method: 'POST', body: asBody(body), headers });
      const text = await res.text();
      const error = (JSON.parse(text) as { error?: unknown }).error;
      const ok = res.status === status && typeof error === 'string' && !/\n/.test(error) && error.length < 200;
      if (!ok) failures.push(`${what}: ${res.status} ${text.slice(0, 100)}`);
      return ok;
    });
    expect(failures).toEqual([]);
    expect(wrong).toBe(0);
    expect(server.proc.exitCode).toBeNull();
    expect((await fetch(`${server.url}/v2/health/live`)).status).toBe(200);
    expect(await inferCorrect(server.url, 7, 'json')).toBe(true);
  });
});

describe('classify', () => {
  it('answers what vggc predict --json prints, for every sample PNG', async () => {
    const files = readdirSync(join(FASHION, 'samples')).filter((f) => f.endsWith('.png')).map((f) => join(FASHION, 'samples', f));
    expect(files).toHaveLength(50);
    const predicted = await run([CLI, 'predict', dir, ...files, '--json', '--top', '3']);
    expect(predicted.code, predicted.stderr).toBe(0);
    const want = JSON.parse(predicted.stdout) as { predictions: unknown[] }[];
    for (const [i, file] of files.entries()) {
      const res = await fetch(`${server.url}/v2/models/${FASHION_NAME}/classify?top=3`, { method: 'POST', body: readFileSync(file), headers: { 'content-type': 'image/png' } });
      expect(res.status).toBe(200);
      const got = (await res.json()) as { model_name: string; predictions: unknown[] };
      expect(got.model_name).toBe(FASHION_NAME);
      expect(got.predictions).toEqual(want[i].predictions);
    }
  });

  it('refuses a body that is not an image, and a bad top, in one line', async () => {
    const notImage = await fetch(`${server.url}/v2/models/${FASHION_NAME}/classify`, { method: 'POST', body: 'GIF89a not really', headers: { 'content-type': 'image/gif' } });
    expect(notImage.status).toBe(400);
    expect(((await notImage.json()) as { error: string }).error).toMatch(/^image: cannot decode/);
    const badTop = await fetch(`${server.url}/v2/models/${FASHION_NAME}/classify?top=0`, { method: 'POST', body: Buffer.alloc(10) });
    expect(badTop.status).toBe(400);
    expect(((await badTop.json()) as { error: string }).error).toBe('top must be a positive integer, found "0"');
  });
});

describe('start-up refusals are one line, exit 1', () => {
  const oneLine = async (args: string[]): Promise<string> => {
    const r = await run([CLI, 'serve', '--port', '0', ...args]);
    expect(r.code, r.stderr).toBe(1);
    const lines = r.stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(r.stdout).toBe('');
    return lines[0];
  };

  it('two models of one name', async () => {
    const copy = join(tmp, 'fashion-copy');
    cpSync(dir, copy, { recursive: true });
    expect(await oneLine([dir, copy])).toBe(`error: ${dir} and ${copy} both hold a model named "${FASHION_NAME}"; each served model needs its own name`);
  });

  it('a folder that is not a model', async () => {
    expect(await oneLine([join(tmp, 'missing')])).toMatch(/^error: .*missing\/model\.json: cannot read \(ENOENT\)/);
  });

  it('a port that is taken', async () => {
    const port = new URL(server.url).port;
    expect(await oneLine([dir, '--port', port])).toBe(`error: cannot listen on 127.0.0.1:${port}: the address is already in use`);
  });

  it('a bad --max-body is a usage error (exit 2)', async () => {
    const r = await run([CLI, 'serve', dir, '--max-body', '12 XB']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/expected a size such as 65536, 512KiB or 64MiB/);
  });

  it('a timeout longer than a Node timer holds (2³¹ − 1 ms) is a usage error: it would fire after 1 ms', async () => {
    for (const flag of ['--queue-timeout-ms', '--batch-window-ms', '--grace-ms']) {
      const r = await run([CLI, 'serve', dir, flag, '99999999999']);
      expect(r.code, flag).toBe(2);
      expect(r.stderr).toMatch(/expected an integer from 0 to 2147483647/);
    }
  });

  it('startServer checks the settings a program passes', async () => {
    const { startServer } = await import('../runtime/server/serve.js');
    const { SERVE_DEFAULTS } = await import('../runtime/server/options.js');
    await expect(startServer([dir], { ...SERVE_DEFAULTS, queueTimeoutMs: 2 ** 31, version: 'test' })).rejects.toThrow('serve: queueTimeoutMs must be an integer from 0 to 2147483647, found 2147483648');
    await expect(startServer([dir], { ...SERVE_DEFAULTS, maxBatch: 0, version: 'test' })).rejects.toThrow('serve: maxBatch must be an integer from 1 to');
  });
});
