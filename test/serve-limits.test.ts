/**
 * `vggc serve`'s bounds and drain through real sockets: a full queue (503 + Retry-After), a client
 * that disconnects freeing its slot, 504 after the queue timeout, 413 without reading the body, and
 * SIGTERM with requests in flight (every one answered, exit 0).
 */
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';
import { binaryRequest, compileFashion, decodeResponse, FASHION, FASHION_NAME, IMAGE_FLOATS, metric, sameBits, startServe, stopServe, type ServeProcess } from './serve-helpers.js';
import { loadModel } from '../runtime/load/node.js';
import { readNpy } from '../runtime/npy.js';
import { join } from 'node:path';

let dir: string;
let images: Float32Array[];
/** Each image alone through the deterministic build (what vggc run computes; serve-e2e checks vggc run itself). */
let alone: Float32Array[];

beforeAll(async () => {
  dir = await compileFashion(tempDir('vggc-serve-limits-'));
  const all = readNpy(join(FASHION, 'samples-input.npy')).data;
  images = Array.from({ length: 24 }, (_, i) => all.slice(i * IMAGE_FLOATS, (i + 1) * IMAGE_FLOATS));
  const model = await loadModel(dir, { threads: 1, build: 'deterministic' });
  alone = [];
  for (const im of images) alone.push(await model.infer(im, 1));
  model.dispose();
});

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

/** The whole answer to `req`: status, headers and body. */
function answerOf(req: ClientRequest): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.once('error', reject);
  });
}

/** A request over its own connection; `hold` sends the headers and only part of the body until finish(). */
function open(url: string, path: string, body: Buffer, headers: Record<string, string>, { hold = false } = {}): { req: ClientRequest; answer: Promise<Answer>; finish: () => void } {
  const req = request(`${url}${path}`, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) }, agent: false });
  const answer = answerOf(req);
  const half = hold ? body.length >> 1 : body.length;
  req.write(body.subarray(0, half));
  const finish = (): void => void req.end(body.subarray(half));
  if (!hold) finish();
  return { req, answer, finish };
}

const INFER = `/v2/models/${FASHION_NAME}/infer`;
const inferImage = (url: string, i: number, opts?: { hold?: boolean }) => {
  const { body, headers } = binaryRequest([images[i]], true);
  return open(url, INFER, body, headers, opts);
};
const correct = (a: Answer, i: number): boolean => a.status === 200 && sameBits(decodeResponse(a.body, a.headers['inference-header-content-length'] as string).outputs.logits.data, alone[i]);

async function metrics(s: ServeProcess): Promise<string> {
  return (await fetch(`${s.url}/metrics`)).text();
}

/** Polls /metrics until `series` reaches `value` (the server has really received and queued the requests). */
async function waitFor(s: ServeProcess, series: string, value: number): Promise<void> {
  const until = Date.now() + 20_000;
  while (metric(await metrics(s), series) !== value) {
    if (Date.now() > until) throw new Error(`${series} never reached ${value}: ${metric(await metrics(s), series)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const DEPTH = `vggc_queue_depth{model="${FASHION_NAME}"}`;
/** Counts the /metrics request that reads it, too. */
const IN_FLIGHT = 'vggc_requests_in_flight';

describe('bounded', () => {
  it('a full queue answers 503 with Retry-After; clients that disconnect free their slots', async () => {
    const s = await startServe([dir, '--threads', '1', '--max-queue', '4', '--max-batch', '64', '--batch-window-ms', '1500']);
    try {
      const leaving = [0, 1, 2, 3].map((i) => inferImage(s.url, i));
      for (const l of leaving) l.answer.catch(() => {}); // they hang up before any answer
      await waitFor(s, DEPTH, 4);
      for (const l of leaving) l.req.destroy();
      await waitFor(s, DEPTH, 0);

      const waiting = [4, 5, 6, 7].map((i) => inferImage(s.url, i));
      await waitFor(s, DEPTH, 4);
      const refused = await inferImage(s.url, 8).answer;
      expect(refused.status).toBe(503);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect((JSON.parse(refused.body.toString()) as { error: string }).error).toBe(`model ${FASHION_NAME}: the queue is full (4 requests waiting); retry later`);
      const answers = await Promise.all(waiting.map((w) => w.answer));
      answers.forEach((a, k) => expect(correct(a, 4 + k)).toBe(true));
      const text = await metrics(s);
      expect(metric(text, `vggc_requests_total{model="${FASHION_NAME}",endpoint="infer",status="503"}`)).toBe(1);
      expect(metric(text, `vggc_requests_total{model="${FASHION_NAME}",endpoint="infer",status="499"}`)).toBe(4);
      expect(metric(text, `vggc_batch_size_count{model="${FASHION_NAME}"}`)).toBe(1); // the 4 that left never ran
    } finally {
      expect(await stopServe(s)).toBe(0);
    }
  });

  it('a request waiting longer than --queue-timeout-ms is answered 504', async () => {
    const s = await startServe([dir, '--threads', '1', '--queue-timeout-ms', '200', '--batch-window-ms', '5000', '--max-batch', '64']);
    try {
      const t0 = performance.now();
      const a = await inferImage(s.url, 0).answer;
      expect(a.status).toBe(504);
      expect(performance.now() - t0).toBeLessThan(2000);
      expect((JSON.parse(a.body.toString()) as { error: string }).error).toMatch(new RegExp(`^model ${FASHION_NAME}: the request waited \\d+ ms in the queue \\(limit 200 ms\\)$`));
    } finally {
      expect(await stopServe(s)).toBe(0);
    }
  });

  it('a body over --max-body is answered 413 at once, without the server reading or keeping it', async () => {
    const s = await startServe([dir, '--threads', '1', '--max-body', '64KiB']);
    try {
      const rss = () => metrics(s).then((t) => metric(t, 'vggc_process_resident_memory_bytes'));
      const before = await rss();
      // Declares 512 MiB and sends 8 MiB of it: the answer must not wait for the rest.
      const req = request(`${s.url}${INFER}`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(512 * 1024 * 1024) }, agent: false });
      const answer = answerOf(req);
      req.write(Buffer.alloc(8 * 1024 * 1024, 0x20));
      const a = await answer;
      req.destroy();
      expect(a.status).toBe(413);
      expect(a.headers.connection).toBe('close');
      expect((JSON.parse(a.body.toString()) as { error: string }).error).toBe('request body is larger than the limit of 64 KiB (--max-body)');
      // Chunked, no Content-Length: refused once 64 KiB have arrived (the server hangs up while we still write).
      const chunked = request(`${s.url}${INFER}`, { method: 'POST', headers: { 'content-type': 'application/json' }, agent: false });
      const chunkedAnswer = new Promise<number>((resolve) => chunked.once('response', (res) => resolve(res.statusCode ?? 0)));
      chunked.on('error', () => {});
      for (let i = 0; i < 16; i++) chunked.write(Buffer.alloc(64 * 1024, 0x20));
      expect(await chunkedAnswer).toBe(413);
      chunked.destroy();
      expect((await rss()) - before).toBeLessThan(32 * 1024 * 1024);
      expect(correct(await inferImage(s.url, 3).answer, 3)).toBe(true);
    } finally {
      expect(await stopServe(s)).toBe(0);
    }
  });
});

describe('logs', () => {
  it('--log writes pino JSON lines on stderr, with the request and its status; without it, nothing', async () => {
    const logged = await startServe([dir, '--threads', '1', '--log']);
    const quiet = await startServe([dir, '--threads', '1']);
    try {
      for (const s of [logged, quiet]) expect(correct(await inferImage(s.url, 2).answer, 2)).toBe(true);
      await new Promise((r) => setTimeout(r, 200));
      const lines = logged.stderr().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg?: string; req?: { method: string; url: string }; res?: { statusCode: number }; responseTime?: number });
      expect(lines.some((l) => l.req?.method === 'POST' && l.req.url === INFER)).toBe(true);
      expect(lines.some((l) => l.res?.statusCode === 200 && typeof l.responseTime === 'number')).toBe(true);
      expect(quiet.stderr()).toBe('');
    } finally {
      expect(await stopServe(logged)).toBe(0);
      expect(await stopServe(quiet)).toBe(0);
    }
  });
});

describe('graceful shutdown', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} with requests queued and bodies half sent: every one answered correctly, then exit 0`, async () => {
      const s = await startServe([dir, '--max-batch', '64', '--batch-window-ms', '3000']);
      try {
        const queued = Array.from({ length: 16 }, (_, i) => inferImage(s.url, i));
        await waitFor(s, DEPTH, 16);
        const half = [16, 17, 18].map((i) => inferImage(s.url, i, { hold: true }));
        await waitFor(s, IN_FLIGHT, 19 + 1);
        const t0 = performance.now();
        s.proc.kill(signal);
        // Not accepting any more: a new connection is refused.
        await new Promise((r) => setTimeout(r, 300));
        await expect(fetch(`${s.url}/v2/health/live`)).rejects.toThrow();
        for (const h of half) h.finish();
        const answers = await Promise.all([...queued, ...half].map((q) => q.answer));
        answers.forEach((a, i) => expect(correct(a, i), `request ${i}: ${a.status}`).toBe(true));
        // The window was 3 s: the queued batch went out at the signal instead of waiting for it.
        expect(await s.exited).toBe(0);
        expect(performance.now() - t0).toBeLessThan(2500);
        expect(s.stderr()).toMatch(new RegExp(`^${signal}: not accepting new connections; finishing the requests already received`, 'm'));
      } finally {
        s.proc.kill('SIGKILL'); // only if a failed expectation left it running
      }
    });
  }

  it('past --grace-ms the connections still open are cut and the exit code is 1', async () => {
    const s = await startServe([dir, '--threads', '1', '--grace-ms', '300']);
    try {
      const stuck = inferImage(s.url, 0, { hold: true });
      stuck.answer.catch(() => {});
      await waitFor(s, IN_FLIGHT, 1 + 1);
      s.proc.kill('SIGTERM');
      expect(await s.exited).toBe(1);
      expect(s.stderr()).toMatch(/grace period of 300 ms is over: closing the remaining connections/);
    } finally {
      s.proc.kill('SIGKILL');
    }
  });
});
