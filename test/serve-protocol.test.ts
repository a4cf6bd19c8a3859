/**
 * The Open Inference Protocol v2 REST surface of `vggc serve`, in process (Fastify's inject): the
 * spec's own examples, the binary tensor extension, named outputs, and every refusal.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../runtime/load/node.js';
import type { OutputTensor, VggcModel } from '../runtime/model.js';
import { compileModel } from '../compiler/pipeline.js';
import { buildApp, type App } from '../runtime/server/app.js';
import { InProcessEngine } from '../runtime/server/engine.js';
import { SERVE_DEFAULTS } from '../runtime/server/options.js';
import { tempDir } from './helpers.js';
import { binaryRequest, compileFashion, decodeResponse, expectSameBits, FASHION_NAME, IMAGE_FLOATS, jsonRequest } from './serve-helpers.js';
import { readNpy } from '../runtime/npy.js';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { FASHION } from './serve-helpers.js';

const OPTS = { ...SERVE_DEFAULTS, windowMs: SERVE_DEFAULTS.batchWindowMs, version: 'test' };
const INFER = `/v2/models/${FASHION_NAME}/infer`;

let model: VggcModel;
let app: App;
let images: Float32Array[];
/** model.infer on each image alone. */
let alone: Float32Array[];

beforeAll(async () => {
  const dir = await compileFashion(tempDir('vggc-serve-protocol-'));
  model = await loadModel(dir, { threads: 1, build: 'deterministic' });
  app = buildApp([new InProcessEngine(model)], OPTS);
  const all = readNpy(join(FASHION, 'samples-input.npy')).data;
  images = Array.from({ length: 8 }, (_, i) => all.slice(i * IMAGE_FLOATS, (i + 1) * IMAGE_FLOATS));
  alone = [];
  for (const im of images) alone.push(await model.infer(im, 1));
});

const post = (url: string, payload: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }) => app.fastify.inject({ method: 'POST', url, payload, headers });

function oneLineError(res: { statusCode: number; body: string }, status: number, pattern: RegExp): void {
  expect(res.statusCode, res.body).toBe(status);
  const { error } = JSON.parse(res.body) as { error: string };
  expect(error).toMatch(pattern);
  expect(error).not.toMatch(/[\r\n]/);
  expect(error.length).toBeLessThan(200);
}

describe('health and metadata', () => {
  it('GET /v2 names the server and the binary tensor extension', async () => {
    const res = await app.fastify.inject('/v2');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ name: 'vggc', version: 'test', extensions: ['binary_tensor_data'] });
  });

  it('live and ready are 200 with their JSON objects', async () => {
    expect((await app.fastify.inject('/v2/health/live')).json()).toEqual({ live: true });
    const ready = await app.fastify.inject('/v2/health/ready');
    expect([ready.statusCode, ready.json()]).toEqual([200, { ready: true }]);
    const m = await app.fastify.inject(`/v2/models/${FASHION_NAME}/ready`);
    expect([m.statusCode, m.json()]).toEqual([200, { name: FASHION_NAME, ready: true }]);
    expect((await app.fastify.inject(`/v2/models/${FASHION_NAME}/versions/1/ready`)).statusCode).toBe(200);
  });

  it('a model whose engine failed makes the model, the server and liveness report false with a 4xx', async () => {
    const engine = new InProcessEngine(model);
    const broken = buildApp([engine], OPTS);
    engine.ready = false;
    for (const [url, body] of [
      ['/v2/health/live', { live: false }],
      ['/v2/health/ready', { ready: false }],
      [`/v2/models/${FASHION_NAME}/ready`, { name: FASHION_NAME, ready: false }],
    ] as const) {
      const res = await broken.fastify.inject(url);
      expect([res.statusCode, res.json()]).toEqual([400, body]);
    }
  });

  it('model metadata: $metadata_model_response with inputs and outputs, with and without /versions/1', async () => {
    const want = {
      name: FASHION_NAME,
      versions: ['1'],
      platform: 'vggc_wasm',
      inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 1, 32, 32] }],
      // A classifier's default outputs: the logits, then its penultimate layer (what vggc embed uses).
      outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, 10] }, { name: 'fc6', datatype: 'FP32', shape: [-1, 128] }],
    };
    expect((await app.fastify.inject(`/v2/models/${FASHION_NAME}`)).json()).toEqual(want);
    expect((await app.fastify.inject(`/v2/models/${FASHION_NAME}/versions/1`)).json()).toEqual(want);
  });

  it('unknown model, unknown version and unknown route are 404 with an error object', async () => {
    oneLineError(await app.fastify.inject('/v2/models/nope'), 404, /^unknown model "nope" \(serving "fashion-mnist-vgg"\)$/);
    oneLineError(await app.fastify.inject(`/v2/models/${FASHION_NAME}/versions/7`), 404, /has no version "7"/);
    oneLineError(await post('/v2/models/nope/infer', jsonRequest([images[0]])), 404, /unknown model/);
    oneLineError(await app.fastify.inject('/v3'), 404, /no such endpoint: GET \/v3/);
  });
});

describe('inference (JSON)', () => {
  it("the spec's example request, verbatim, is refused in one line: this model has one FP32 input", async () => {
    const specExample = {
      id: '42',
      inputs: [
        { name: 'input0', shape: [2, 2], datatype: 'UINT32', data: [1, 2, 3, 4] },
        { name: 'input1', shape: [3], datatype: 'BOOL', data: [true] },
      ],
      outputs: [{ name: 'output0' }],
    };
    oneLineError(await post(INFER, JSON.stringify(specExample)), 400, /inputs has 2 tensors but model fashion-mnist-vgg takes one, "input"/);
    oneLineError(await post(INFER, JSON.stringify({ ...specExample, inputs: [specExample.inputs[0]] })), 400, /unknown input "input0"/);
  });

  it("the spec's example shape with this model's tensors: id echoed, $response_output with FP32 data", async () => {
    const res = await post(INFER, jsonRequest([images[0]], { id: '42', outputs: [{ name: 'logits' }] }));
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    const body = res.json() as { model_name: string; model_version: string; id: string; outputs: { name: string; shape: number[]; datatype: string; data: number[] }[] };
    expect(Object.keys(body).sort()).toEqual(['id', 'model_name', 'model_version', 'outputs']);
    expect([body.model_name, body.model_version, body.id]).toEqual([FASHION_NAME, '1', '42']);
    expect(body.outputs).toHaveLength(1);
    expect([body.outputs[0].name, body.outputs[0].shape, body.outputs[0].datatype]).toEqual(['logits', [1, 10], 'FP32']);
    expectSameBits(Float32Array.from(body.outputs[0].data), alone[0]);
  });

  it('without an id the response still carries one (a fresh UUID)', async () => {
    const ids = await Promise.all([0, 1].map(async () => (await post(INFER, jsonRequest([images[0]]))).json().id as string));
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(ids[0]).not.toBe(ids[1]);
  });

  it('a batch of 3 in one request: shape [3, 10], each row the bits of that image alone', async () => {
    const { outputs } = decodeResponse((await post(INFER, jsonRequest(images.slice(0, 3)))).rawPayload, undefined);
    expect(outputs.logits.shape).toEqual([3, 10]);
    for (let i = 0; i < 3; i++) expectSameBits(outputs.logits.data.subarray(i * 10, (i + 1) * 10), alone[i]);
  });

  it('nested data (fully, or [N][C·H·W]) gives the same answer as flat data', async () => {
    const flat = Array.from(images[1]);
    const rows = (a: number[], n: number) => Array.from({ length: a.length / n }, (_, i) => a.slice(i * n, (i + 1) * n));
    const nested = [[rows(flat, 32)]];
    for (const data of [nested, [flat]]) {
      const res = await post(INFER, JSON.stringify({ inputs: [{ name: 'input', shape: [1, 1, 32, 32], datatype: 'FP32', data }] }));
      expect(res.statusCode, res.body).toBe(200);
      expectSameBits(decodeResponse(res.rawPayload, undefined).outputs.logits.data, alone[1]);
    }
  });

  it('requests arriving within --batch-window-ms are batched, and each gets exactly its own rows', async () => {
    const windowed = buildApp([new InProcessEngine(model)], { ...OPTS, windowMs: 20 });
    const results = await Promise.all(images.map((im) => windowed.fastify.inject({ method: 'POST', url: INFER, payload: jsonRequest([im]) })));
    results.forEach((res, i) => expectSameBits(decodeResponse(res.rawPayload, undefined).outputs.logits.data, alone[i]));
    const text = (await windowed.fastify.inject('/metrics')).body;
    // 8 requests in fewer than 8 batches: at least one batch held more than one request.
    expect(Number(/vggc_batch_size_count\{model="fashion-mnist-vgg"\} (\d+)/.exec(text)?.[1])).toBeLessThan(8);
  });
});

describe('binary tensor extension', () => {
  it('binary input and binary output: Inference-Header-Content-Length, binary_data_size, bits as JSON', async () => {
    const { body, headers } = binaryRequest(images.slice(0, 2), true);
    const res = await post(INFER, body, headers);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    const headerLength = res.headers['inference-header-content-length'] as string;
    const { json, outputs } = decodeResponse(res.rawPayload, headerLength);
    expect(Number(res.headers['content-length'])).toBe(Number(headerLength) + 80);
    expect(json.outputs).toEqual([{ name: 'logits', shape: [2, 10], datatype: 'FP32', parameters: { binary_data_size: 80 } }]);
    expectSameBits(outputs.logits.data.subarray(0, 10), alone[0]);
    expectSameBits(outputs.logits.data.subarray(10), alone[1]);
  });

  it('binary input with JSON output, and JSON input with binary_data_output', async () => {
    const a = binaryRequest([images[2]], false);
    const res = await post(INFER, a.body, a.headers);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expectSameBits(decodeResponse(res.rawPayload, undefined).outputs.logits.data, alone[2]);
    const b = await post(INFER, jsonRequest([images[3]], { parameters: { binary_data_output: true } }));
    expectSameBits(decodeResponse(b.rawPayload, b.headers['inference-header-content-length'] as string).outputs.logits.data, alone[3]);
    // An output's own binary_data overrides binary_data_output.
    const c = await post(INFER, jsonRequest([images[3]], { parameters: { binary_data_output: true }, outputs: [{ name: 'logits', parameters: { binary_data: false } }] }));
    expect(c.headers['inference-header-content-length']).toBeUndefined();
    expectSameBits(decodeResponse(c.rawPayload, undefined).outputs.logits.data, alone[3]);
  });

  it('raw binary request (Inference-Header-Content-Length: 0): one image, binary outputs', async () => {
    const res = await post(INFER, Buffer.from(images[4].buffer.slice(0)), { 'content-type': 'application/octet-stream', 'inference-header-content-length': '0' });
    expect(res.statusCode, res.body).toBe(200);
    const { json, outputs } = decodeResponse(res.rawPayload, res.headers['inference-header-content-length'] as string);
    expect((json.outputs as unknown[])[0]).toEqual({ name: 'logits', shape: [1, 10], datatype: 'FP32', parameters: { binary_data_size: 40 } });
    expectSameBits(outputs.logits.data, alone[4]);
  });

  it('a request without Content-Type is read the same way', async () => {
    const res = await app.fastify.inject({ method: 'POST', url: INFER, payload: jsonRequest([images[5]]) });
    expect(res.statusCode, res.body).toBe(200);
    expectSameBits(decodeResponse(res.rawPayload, undefined).outputs.logits.data, alone[5]);
  });
});

describe('refusals: 400 with one short line', () => {
  const good = { name: 'input', shape: [1, 1, 32, 32], datatype: 'FP32' };
  const data = () => Array.from(images[0]);
  const cases: [string, () => string | Buffer, RegExp, Record<string, string>?][] = [
    ['malformed JSON', () => '{"inputs": [', /^invalid JSON: /],
    ['an empty body', () => '', /^empty body/],
    ['a JSON array', () => '[1, 2]', /must be a JSON object, found an array/],
    ['no inputs', () => '{}', /inputs must be a non-empty array, found nothing/],
    ['inputs not an array', () => '{"inputs": 3}', /inputs must be a non-empty array/],
    ['an unknown input name', () => JSON.stringify({ inputs: [{ ...good, name: 'x', data: data() }] }), /^unknown input "x"/],
    ['datatype FP64', () => JSON.stringify({ inputs: [{ ...good, datatype: 'FP64', data: data() }] }), /datatype is FP64 but model fashion-mnist-vgg takes FP32/],
    ['datatype missing', () => JSON.stringify({ inputs: [{ ...good, datatype: undefined, data: data() }] }), /^input datatype is nothing but model fashion-mnist-vgg takes FP32$/],
    ['a wrong shape', () => JSON.stringify({ inputs: [{ ...good, shape: [1, 3, 32, 32], data: data() }] }), /shape \[1, 3, 32, 32\] does not match .*\[N, 1, 32, 32\]/],
    ['a 3-d shape', () => JSON.stringify({ inputs: [{ ...good, shape: [1, 32, 32], data: data() }] }), /does not match/],
    ['a negative dimension', () => JSON.stringify({ inputs: [{ ...good, shape: [-1, 1, 32, 32], data: data() }] }), /non-negative integers/],
    ['a batch too large for the body (nothing allocated)', () => JSON.stringify({ inputs: [{ ...good, shape: [1e9, 1, 32, 32], data: [] }] }), /^input shape \[1000000000, 1, 32, 32\] needs 1024000000000 values, more than a \d+-byte body can hold$/],
    ['batch size 0', () => JSON.stringify({ inputs: [{ ...good, shape: [0, 1, 32, 32], data: [] }] }), /batch size 0/],
    ['too few values', () => JSON.stringify({ inputs: [{ ...good, data: data().slice(1) }] }), /^data has 1023 values but shape \[1, 1, 32, 32\] needs 1024$/],
    ['too many values', () => JSON.stringify({ inputs: [{ ...good, data: [...data(), 0] }] }), /data has 1025 values/],
    ['a string among the numbers', () => JSON.stringify({ inputs: [{ ...good, data: ['0.5', ...data().slice(1)] }] }), /^data\[0\] is the string "0.5", not a number$/],
    ['null among the numbers', () => JSON.stringify({ inputs: [{ ...good, data: [...data().slice(1), null] }] }), /data\[1023\] is null, not a number/],
    ['a ragged nested array', () => JSON.stringify({ inputs: [{ ...good, data: [[data().slice(0, 1000), data().slice(0, 24)]] }] }), /has 2 elements but dimension 1 of the shape is 1/],
    ['a number beyond FP32', () => JSON.stringify({ inputs: [{ ...good, data: [1e39, ...data().slice(1)] }] }), /beyond the range of FP32/],
    ['no data', () => JSON.stringify({ inputs: [good] }), /neither data nor parameters.binary_data_size/],
    ['a non-string id', () => JSON.stringify({ id: 42, inputs: [{ ...good, data: data() }] }), /id must be a string, found number 42/],
    ['an unknown output', () => JSON.stringify({ inputs: [{ ...good, data: data() }], outputs: [{ name: 'probabilities' }] }), /unknown output "probabilities": model fashion-mnist-vgg has "logits"/],
    ['an output twice', () => JSON.stringify({ inputs: [{ ...good, data: data() }], outputs: [{ name: 'logits' }, { name: 'logits' }] }), /requested twice/],
    ['binary_data not a boolean', () => JSON.stringify({ inputs: [{ ...good, data: data() }], outputs: [{ name: 'logits', parameters: { binary_data: 'yes' } }] }), /binary_data must be true or false/],
    ['parameters not an object', () => JSON.stringify({ parameters: [], inputs: [{ ...good, data: data() }] }), /parameters must be an object/],
    ['binary_data_size of the wrong size', () => Buffer.concat([Buffer.from(JSON.stringify({ inputs: [{ ...good, parameters: { binary_data_size: 100 } }] })), Buffer.alloc(100)]), /binary_data_size is 100 but shape \[1, 1, 32, 32\] of FP32 is 4096 bytes/, { 'inference-header-content-length': String(JSON.stringify({ inputs: [{ ...good, parameters: { binary_data_size: 100 } }] }).length) }],
    ['an Inference-Header-Content-Length past the body', () => '{}', /Inference-Header-Content-Length is "99" but the body has 2 bytes/, { 'inference-header-content-length': '99' }],
    ['a raw binary body of the wrong size', () => Buffer.alloc(12), /raw binary body has 12 bytes but one 1×32×32 FP32 image is 4096/, { 'inference-header-content-length': '0' }],
    ['NaN in binary data', () => Buffer.from(new Float32Array(1024).fill(NaN).buffer), /element 0 is NaN; only finite FP32 values/, { 'inference-header-content-length': '0' }],
  ];
  for (const [what, body, pattern, headers] of cases) {
    it(what, async () => oneLineError(await post(INFER, body(), { 'content-type': 'application/json', ...headers }), 400, pattern));
  }

  it('bytes after the JSON that no input claims', async () => {
    const header = JSON.stringify({ inputs: [{ ...good, data: data() }] });
    oneLineError(await post(INFER, Buffer.concat([Buffer.from(header), Buffer.alloc(8)]), { 'inference-header-content-length': String(header.length) }), 400, /8 bytes after the JSON but the inputs' binary_data_size add up to 0/);
  });

  it('a body over --max-body is 413 and closes the connection', async () => {
    const small = buildApp([new InProcessEngine(model)], { ...OPTS, maxBody: 1024 });
    const res = await small.fastify.inject({ method: 'POST', url: INFER, payload: jsonRequest([images[0]]), headers: { 'content-type': 'application/json' } });
    oneLineError(res, 413, /^request body is larger than the limit of 1 KiB \(--max-body\)$/);
    expect(res.headers.connection).toBe('close');
  });
});

describe('named outputs (a model compiled with --outputs relu2_1,fc6,logits)', () => {
  let named: VggcModel;
  /** named.inferAll on each image alone: the rows every answer must have. */
  let each: Record<string, OutputTensor>[];
  beforeAll(async () => {
    const dir = join(tempDir('vggc-serve-outputs-'), 'fashion-outputs');
    await compileModel({ configPath: join(FASHION, 'fashion-mnist.json'), weightsPath: join(FASHION, 'weights.safetensors'), outDir: dir, outputs: ['relu2_1', 'fc6', 'logits'] });
    named = await loadModel(dir, { threads: 1, build: 'deterministic' });
    each = [];
    for (const im of images) each.push(await named.inferAll(im, 1));
  });

  it('metadata lists every output; infer returns each, and `outputs` picks', async () => {
    const server = buildApp([new InProcessEngine(named)], OPTS);
    const meta = (await server.fastify.inject(`/v2/models/${FASHION_NAME}`)).json() as { outputs: unknown[] };
    expect(meta.outputs).toEqual([
      { name: 'relu2_1', datatype: 'FP32', shape: [-1, 32, 16, 16] },
      { name: 'fc6', datatype: 'FP32', shape: [-1, 128] },
      { name: 'logits', datatype: 'FP32', shape: [-1, 10] },
    ]);
    const all = decodeResponse((await server.fastify.inject({ method: 'POST', url: INFER, payload: jsonRequest([images[0]]) })).rawPayload, undefined).outputs;
    expect(Object.keys(all)).toEqual(['relu2_1', 'fc6', 'logits']);
    expect(all.relu2_1.shape).toEqual([1, 32, 16, 16]);
    for (const name of ['relu2_1', 'fc6', 'logits']) expectSameBits(all[name].data, each[0][name].data);
    expectSameBits(all.logits.data, alone[0]); // cutting nothing off: the same logits as the plain model
    const picked = await server.fastify.inject({ method: 'POST', url: INFER, payload: jsonRequest([images[0]], { outputs: [{ name: 'relu2_1', parameters: { binary_data: true } }, { name: 'fc6' }] }) });
    const got = decodeResponse(picked.rawPayload, picked.headers['inference-header-content-length'] as string);
    expect((got.json.outputs as { name: string }[]).map((o) => o.name)).toEqual(['relu2_1', 'fc6']);
    expectSameBits(got.outputs.relu2_1.data, each[0].relu2_1.data);
    const classify = await server.fastify.inject({ method: 'POST', url: `/v2/models/${FASHION_NAME}/classify?top=1`, payload: readFileSync(join(FASHION, 'samples/000-ankle-boot.png')), headers: { 'content-type': 'image/png' } });
    expect(classify.statusCode, classify.body).toBe(200);
    expect((classify.json() as { predictions: { label: string }[] }).predictions[0].label).toBe('Ankle boot');
  });

  it('batched requests each get their own rows of every output', async () => {
    const server = buildApp([new InProcessEngine(named)], { ...OPTS, windowMs: 20 });
    const res = await Promise.all(images.map((im, i) => server.fastify.inject({ method: 'POST', url: INFER, payload: jsonRequest(i % 2 ? [im, images[0]] : [im]) })));
    const MAP = 32 * 16 * 16;
    res.forEach((r, i) => {
      const { outputs } = decodeResponse(r.rawPayload, undefined);
      const n = i % 2 ? 2 : 1;
      expect(outputs.relu2_1.shape).toEqual([n, 32, 16, 16]);
      expectSameBits(outputs.relu2_1.data.subarray(0, MAP), each[i].relu2_1.data);
      expectSameBits(outputs.fc6.data.subarray(0, 128), each[i].fc6.data);
      expectSameBits(outputs.logits.data.subarray(0, 10), alone[i]);
      if (n === 2) expectSameBits(outputs.relu2_1.data.subarray(MAP), each[0].relu2_1.data);
    });
  });
});
