/**
 * The HTTP side of `vggc serve`: Open Inference Protocol v2 over REST (health, server and model
 * metadata, infer with the binary tensor extension), classify for image bodies, and /metrics.
 * Fastify does the HTTP: routing, the body limit (413 before reading past it), logging with pino,
 * and, on close(), refusing new requests with 503 while the ones already received finish.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import { isVggcError } from '../format/errors.js';
import { Batcher, type BatcherLimits } from './batcher.js';
import { imageInput, parseTop, predictions } from './classify.js';
import type { Engine } from './engine.js';
import { HttpError } from './http-error.js';
import { INPUT_NAME, parseInferRequest } from './infer-request.js';
import { encodeInferResponse } from './infer-response.js';
import { ServerMetrics } from './metrics.js';
import { HEAD_OUTPUTS, headOutput } from './outputs.js';

/** Models have one version; "1" names it in URLs and answers (OIP lets a server choose its scheme). */
export const MODEL_VERSION = '1';
export const PLATFORM = 'vggc_wasm';

export interface AppOptions extends BatcherLimits {
  readonly maxBody: number;
  readonly log: boolean;
  /** Reported by GET /v2. */
  readonly version: string;
}

export interface ServedModel {
  readonly name: string;
  readonly engine: Engine;
  readonly batcher: Batcher;
}

export interface App {
  readonly fastify: FastifyInstance;
  readonly models: ReadonlyMap<string, ServedModel>;
  readonly metrics: ServerMetrics;
  /** Marks the server not ready and sends every queued batch at once; resolves when all batches are done. */
  drain(): Promise<void>;
}

/** How long a connection refused with 413 goes on reading (and dropping) the body before it is closed. */
const LINGER_MS = 2000;

/**
 * After a 413 the client is usually still sending its body. Closing at once, with those bytes unread,
 * makes the kernel reset the connection, and a client still writing may lose the answer to the reset
 * (seen as EPIPE). So the body is read and dropped (nothing is kept), the answer is followed by a FIN,
 * and the socket is destroyed when the client closes or after LINGER_MS: nginx's lingering close.
 *
 * It relies on how node:http ends a `Connection: close` response: once the answer is written it
 * calls the socket's `destroySoon()` (resOnFinish in node's lib/_http_server.js), which is replaced
 * here by end-then-wait. serve-limits' 413 test fails if node:http stops doing so.
 */
function lingerBeforeClose(req: IncomingMessage): void {
  const socket = req.socket;
  req.resume();
  socket.destroySoon = function lingeringClose(this: typeof socket): void {
    this.end();
    const timer = setTimeout(() => this.destroy(), LINGER_MS).unref();
    this.once('close', () => clearTimeout(timer));
  };
}

type Params = { name: string; version?: string };
type Endpoint = 'infer' | 'classify' | 'model_metadata' | 'model_ready' | 'server' | 'metrics' | 'none';

export function buildApp(engines: readonly Engine[], opts: AppOptions): App {
  const metrics = new ServerMetrics(engines.map((e) => e.manifest.name));
  const models = new Map<string, ServedModel>();
  for (const engine of engines) {
    const name = engine.manifest.name;
    models.set(name, { name, engine, batcher: new Batcher(engine, opts, name, metrics.forModel(name)) });
  }
  let draining = false;
  const fastify = Fastify({
    bodyLimit: opts.maxBody,
    logger: opts.log ? { level: 'info', stream: process.stderr } : false,
    requestIdHeader: 'x-request-id',
    return503OnClosing: true,
    // A client may take this long to send its body; then Node answers 408 and frees the slot.
    requestTimeout: 120_000,
  });

  // Bodies are read as bytes whatever their Content-Type: OIP clients send application/json,
  // application/octet-stream (binary extension) or none at all; the routes decide what they are.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  fastify.addHook('onRequest', async (request, reply) => {
    metrics.started();
    reply.raw.once('close', () => {
      const model = models.has((request.params as Params)?.name) ? (request.params as Params).name : '';
      const endpoint = (request.routeOptions.config as { endpoint?: Endpoint })?.endpoint ?? 'none';
      metrics.answered(model, endpoint, reply.raw.writableFinished ? reply.statusCode : 499, reply.elapsedTime / 1000);
    });
  });
  // While draining, every answer closes its connection, so that close() is not held up by keep-alive.
  fastify.addHook('onSend', async (_request, reply) => {
    if (draining) reply.header('connection', 'close');
  });

  fastify.setErrorHandler((error: Error & { statusCode?: number; code?: string }, request, reply) => {
    if (error instanceof HttpError) return reply.code(error.status).headers(error.headers).send({ error: error.message });
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      // Close the connection: the rest of the body is never kept (read and dropped while it lingers).
      lingerBeforeClose(request.raw);
      return reply.code(413).header('connection', 'close').send({ error: `request body is larger than the limit of ${formatBytes(opts.maxBody)} (--max-body)` });
    }
    if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) {
      return reply.code(error.statusCode).send({ error: error.message.split('\n')[0] });
    }
    if (isVggcError(error)) {
      request.log.error({ err: error }, 'inference failed');
      return reply.code(500).send({ error: error.message });
    }
    request.log.error({ err: error }, 'internal error');
    return reply.code(500).send({ error: `internal error: ${error.message.split('\n')[0]}` });
  });
  fastify.setNotFoundHandler((request, reply) => reply.code(404).send({ error: `no such endpoint: ${request.method} ${request.url.split('?')[0]}` }));

  const model = (params: Params): ServedModel => {
    const m = models.get(params.name);
    if (!m) throw new HttpError(404, `unknown model ${JSON.stringify(params.name)} (serving ${[...models.keys()].map((n) => JSON.stringify(n)).join(', ')})`);
    if (params.version !== undefined && params.version !== MODEL_VERSION) {
      throw new HttpError(404, `model ${m.name} has no version ${JSON.stringify(params.version)} (its one version is "${MODEL_VERSION}")`);
    }
    return m;
  };
  const ready = (): boolean => !draining && [...models.values()].every((m) => m.engine.ready);
  const routes = (path: string): string[] => [`/v2/models/:name${path}`, `/v2/models/:name/versions/:version${path}`];
  const config = (endpoint: Endpoint) => ({ config: { endpoint } });

  fastify.get('/v2', config('server'), async () => ({ name: 'vggc', version: opts.version, extensions: ['binary_tensor_data'] }));
  // Live unless a model's worker died: then only a restart brings it back, which is what a failing
  // liveness probe asks Kubernetes for.
  fastify.get('/v2/health/live', config('server'), async (_req, reply) => {
    const live = draining || [...models.values()].every((m) => m.engine.ready);
    return reply.code(live ? 200 : 400).send({ live });
  });
  // OIP: 200 means ready, a 4xx status not ready.
  fastify.get('/v2/health/ready', config('server'), async (_req, reply) => reply.code(ready() ? 200 : 400).send({ ready: ready() }));

  for (const url of routes('')) {
    fastify.get<{ Params: Params }>(url, config('model_metadata'), async (request) => {
      const m = model(request.params);
      const [c, h, w] = m.engine.manifest.input.shape;
      return {
        name: m.name,
        versions: [MODEL_VERSION],
        platform: PLATFORM,
        inputs: [{ name: INPUT_NAME, datatype: 'FP32', shape: [-1, c, h, w] }],
        outputs: m.engine.outputs.map((o) => ({ name: o.name, datatype: 'FP32', shape: [-1, ...o.shape] })),
      };
    });
  }
  for (const url of routes('/ready')) {
    fastify.get<{ Params: Params }>(url, config('model_ready'), async (request, reply) => {
      const m = model(request.params);
      const ok = !draining && m.engine.ready;
      return reply.code(ok ? 200 : 400).send({ name: m.name, ready: ok });
    });
  }
  for (const url of routes('/infer')) {
    fastify.post<{ Params: Params }>(url, config('infer'), async (request, reply) => {
      const m = model(request.params);
      const [c, h, w] = m.engine.manifest.input.shape;
      const body = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
      const header = request.headers['inference-header-content-length'];
      const req = parseInferRequest(body, Array.isArray(header) ? header[0] : header, { name: m.name, inputShape: [c, h, w], outputs: m.engine.outputs }, JSON.parse);
      const outputs = await m.batcher.submit(req.x, req.n, clientGone(reply));
      const encoded = encodeInferResponse({ name: m.name, version: MODEL_VERSION }, req.id ?? randomUUID(), outputs, req.outputs);
      return reply.headers(encoded.headers).send(encoded.body);
    });
  }
  for (const url of routes('/classify')) {
    fastify.post<{ Params: Params; Querystring: { top?: string } }>(url, config('classify'), async (request, reply) => {
      const m = model(request.params);
      const head = headOutput(m.engine.outputs);
      if (!head) throw new HttpError(400, `model ${m.name} has no ${HEAD_OUTPUTS.join(' or ')} output to classify with (its outputs: ${m.engine.outputs.map((o) => o.name).join(', ')})`);
      const top = parseTop(request.query.top);
      const x = await imageInput((request.body as Buffer | undefined) ?? Buffer.alloc(0), m.engine.manifest);
      const outputs = await m.batcher.submit(x, 1, clientGone(reply));
      return reply.send({ model_name: m.name, model_version: MODEL_VERSION, predictions: predictions(outputs[head.name].data, top, m.engine.manifest) });
    });
  }
  fastify.get('/metrics', config('metrics'), async (_req, reply) => reply.header('content-type', metrics.registry.contentType).send(await metrics.registry.metrics()));

  return {
    fastify,
    models,
    metrics,
    drain: async () => {
      draining = true;
      await Promise.all([...models.values()].map((m) => m.batcher.drain()));
    },
  };
}

/** An AbortSignal that fires if the client closes the connection before its answer is written. */
function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

export function formatBytes(n: number): string {
  if (n % 1024 ** 2 === 0) return `${n / 1024 ** 2} MiB`;
  if (n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}
