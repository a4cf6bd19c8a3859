/** `vggc serve`'s settings, their defaults and checks, and the size syntax of --max-body. */
import { VggcError } from '../format/errors.js';

export interface ServeOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Threads per model (undefined: the loader's default, available cores up to the model's maximum). */
  readonly threads?: number;
  /** Most images one batch runs; 1 turns dynamic batching off. */
  readonly maxBatch: number;
  /** How long the first request of a batch waits for others to join it. 0: none, a batch is what queued while the model was busy. */
  readonly batchWindowMs: number;
  /** Requests that may wait per model; one more is answered 503 with Retry-After. */
  readonly maxQueue: number;
  /** Largest request body in bytes; a larger one is answered 413 without being read whole. */
  readonly maxBody: number;
  /** A request still waiting for its batch after this long is answered 504. */
  readonly queueTimeoutMs: number;
  /** After SIGTERM/SIGINT, how long requests already received may take before connections are cut. */
  readonly graceMs: number;
  /** Structured request logs (pino, one JSON object a line) on stderr. */
  readonly log: boolean;
}

export const SERVE_DEFAULTS: ServeOptions = {
  host: '127.0.0.1',
  port: 8000,
  maxBatch: 8,
  batchWindowMs: 0,
  maxQueue: 256,
  maxBody: 64 * 1024 * 1024,
  queueTimeoutMs: 30_000,
  graceMs: 30_000,
  log: false,
};

/** Node's timers hold at most 2³¹ − 1 ms (about 24.8 days); a longer delay fires after 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** startServer's check of the settings the CLI parses (and a program may pass as it likes). */
export function checkServeOptions(o: ServeOptions): void {
  const int = (v: number, name: string, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    if (!Number.isSafeInteger(v) || v < min || v > max) throw new VggcError(`serve: ${name} must be an integer from ${min} to ${max}, found ${JSON.stringify(v)}`);
  };
  int(o.port, 'port', 0, 65535);
  if (o.threads !== undefined) int(o.threads, 'threads', 1);
  int(o.maxBatch, 'maxBatch', 1);
  int(o.maxQueue, 'maxQueue', 1);
  int(o.maxBody, 'maxBody', 1);
  int(o.batchWindowMs, 'batchWindowMs', 0, MAX_TIMER_MS);
  int(o.queueTimeoutMs, 'queueTimeoutMs', 0, MAX_TIMER_MS);
  int(o.graceMs, 'graceMs', 0, MAX_TIMER_MS);
}

const UNITS: Record<string, number> = { '': 1, b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, kb: 1000, mb: 1000 ** 2, gb: 1000 ** 3 };

/** `65536`, `512KiB`, `64 MiB`, `1.5MiB`, `10MB` → bytes; null if it is not a size. */
export function parseSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!m) return null;
  const unit = UNITS[m[2].toLowerCase()];
  if (unit === undefined) return null;
  const bytes = Math.floor(Number(m[1]) * unit);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : null;
}
