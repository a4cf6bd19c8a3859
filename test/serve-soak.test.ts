/**
 * Soak: 10,000 requests (VGGC_SOAK_REQUESTS), one in ten malformed, from 16 clients against one
 * `vggc serve`, after as many of warm-up (VGGC_SOAK_WARMUP). Zero wrong answers, zero 5xx for the
 * valid ones, every malformed one a 4xx, over both parts; and over the measured part the server's
 * resident memory grows by less than 50 MB.
 *
 * Why a warm-up: V8 sizes its heaps over the first ~10,000 requests (measured, 40,000 requests: RSS
 * 172, 222, 235, 249, 265 MB every 2,000, then 232–233 MB flat to the end). Why floors: garbage not yet
 * collected moves single readings by tens of MB, so growth is the lowest reading of the last fifth
 * minus the lowest of the second and third tenths, both sampled every 5 %: a leak raises the floor.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../runtime/load/node.js';
import { readNpy } from '../runtime/npy.js';
import { tempDir } from './helpers.js';
import { asBody, binaryRequest, compileFashion, decodeResponse, FASHION, FASHION_NAME, IMAGE_FLOATS, jsonRequest, metric, sameBits, startServe, stopServe } from './serve-helpers.js';

const REQUESTS = Number(process.env.VGGC_SOAK_REQUESTS ?? 10_000);
const WARMUP = Number(process.env.VGGC_SOAK_WARMUP ?? REQUESTS);
const CLIENTS = 16;

let dir: string;
let images: Float32Array[];
let alone: Float32Array[];

beforeAll(async () => {
  dir = await compileFashion(tempDir('vggc-serve-soak-'));
  const all = readNpy(join(FASHION, 'samples-input.npy'));
  images = Array.from({ length: all.shape[0] }, (_, i) => all.data.slice(i * IMAGE_FLOATS, (i + 1) * IMAGE_FLOATS));
  const model = await loadModel(dir, { threads: 1, build: 'deterministic' });
  alone = [];
  for (const im of images) alone.push(await model.infer(im, 1));
  model.dispose();
});

const MALFORMED: (() => { body: string | Buffer; headers?: Record<string, string>; path?: string })[] = [
  () => ({ body: '{"inputs": [{"name": "input", "shape": [1, 1, 32, 32], "datatype": "FP32", "data": [0.1, 0.2,' }),
  () => ({ body: jsonRequest([images[0]]).replace('"FP32"', '"FP16"') }),
  () => ({ body: jsonRequest([images[0]]).replace('[1,1,32,32]', '[1,1,32,31]') }),
  () => ({ body: jsonRequest([images[0]]).replace(/,[^,\]]+\]\}\]\}$/, ',"x"]}]}') }),
  () => ({ body: jsonRequest([images[0]]).replace('"name":"input"', '"name":"pixels"') }),
  () => {
    const { body, headers } = binaryRequest([images[0]], true);
    return { body: body.subarray(0, body.length - 4), headers };
  },
  () => ({ body: jsonRequest([images[0]]), path: '/v2/models/not-served/infer' }),
  () => ({ body: Buffer.alloc(100), headers: { 'inference-header-content-length': '0' } }),
];

describe('soak', () => {
  it(`${REQUESTS} requests after ${WARMUP} of warm-up, 10 % malformed, ${CLIENTS} clients: no wrong answer, no 5xx, RSS bounded`, async () => {
    // One thread: this is about staying correct and bounded, and a loaded 2-core machine makes the
    // per-layer barriers of two threads slow enough to stretch 10,000 requests past any timeout.
    const s = await startServe([dir, '--threads', '1']);
    const rss = async () => metric(await (await fetch(`${s.url}/metrics`)).text(), 'vggc_process_resident_memory_bytes');
    const tally = { good: 0, wrong: 0, goodNot200: 0, malformed4xx: 0, malformedOther: 0 };
    let next = 0;
    const samples: { at: number; rss: number }[] = [];
    const every = Math.max(1, Math.floor(REQUESTS / 20));
    const t0 = performance.now();
    try {
      await Promise.all(
        Array.from({ length: CLIENTS }, async () => {
          while (next < WARMUP + REQUESTS) {
            const n = next++;
            const measured = n - WARMUP;
            if (measured >= 0 && measured % every === 0) samples.push({ at: measured / REQUESTS, rss: await rss() });
            if (n % 10 === 9) {
              const m = MALFORMED[Math.floor(n / 10) % MALFORMED.length]();
              const res = await fetch(`${s.url}${m.path ?? `/v2/models/${FASHION_NAME}/infer`}`, { method: 'POST', body: asBody(m.body), headers: { 'content-type': 'application/json', ...m.headers } });
              await res.arrayBuffer();
              if (res.status >= 400 && res.status < 500) tally.malformed4xx++;
              else tally.malformedOther++;
              continue;
            }
            const i = n % images.length;
            const { body, headers } = n % 2 ? binaryRequest([images[i]], n % 4 === 1) : { body: jsonRequest([images[i]]), headers: { 'content-type': 'application/json' } };
            const res = await fetch(`${s.url}/v2/models/${FASHION_NAME}/infer`, { method: 'POST', body: asBody(body), headers });
            const bytes = Buffer.from(await res.arrayBuffer());
            if (res.status !== 200) {
              tally.goodNot200++;
              continue;
            }
            const got = decodeResponse(bytes, res.headers.get('inference-header-content-length')).outputs.logits.data;
            if (sameBits(got, alone[i])) tally.good++;
            else tally.wrong++;
          }
        }),
      );
      samples.push({ at: 1, rss: await rss() });
      const seconds = (performance.now() - t0) / 1000;
      const floor = (from: number, to: number) => Math.min(...samples.filter((x) => x.at >= from && x.at <= to).map((x) => x.rss));
      const early = floor(0.1, 0.3);
      const late = floor(0.8, 1);
      const mb = (b: number) => (b / 1e6).toFixed(1);
      console.log(`soak: ${WARMUP} + ${REQUESTS} requests in ${seconds.toFixed(1)} s (${((WARMUP + REQUESTS) / seconds).toFixed(0)}/s), ${JSON.stringify(tally)}, RSS floor ${mb(early)} → ${mb(late)} MB (readings: ${samples.map((x) => mb(x.rss)).join(' ')})`);
      expect(tally.wrong).toBe(0);
      expect(tally.goodNot200).toBe(0);
      expect(tally.malformedOther).toBe(0);
      const total = WARMUP + REQUESTS;
      expect(tally.good).toBe(total - Math.floor(total / 10));
      expect(tally.malformed4xx).toBe(Math.floor(total / 10));
      expect(samples.length).toBeGreaterThanOrEqual(20);
      expect(early).toBeGreaterThan(50e6);
      expect(late - early).toBeLessThan(50e6);
    } finally {
      expect(await stopServe(s)).toBe(0);
    }
  }, 900_000);
});
