/**
 * `vggc serve DIR…`: the inference server (runtime/server/). Kept out of cli.ts so that it is one
 * registration line there.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { packageVersion } from '../paths.js';
import { MAX_TIMER_MS, parseSize, SERVE_DEFAULTS } from '../../runtime/server/options.js';
import { startServer } from '../../runtime/server/serve.js';

interface ServeFlags {
  host: string;
  port: number;
  threads?: number;
  maxBatch: number;
  batchWindowMs: number;
  maxQueue: number;
  maxBody: number;
  queueTimeoutMs: number;
  graceMs: number;
  log?: boolean;
}

export function registerServe(program: Command): void {
  const d = SERVE_DEFAULTS;
  program
    .command('serve')
    .description('serve compiled models over HTTP: the Open Inference Protocol v2 (KServe, Triton) with dynamic batching, /classify for images, /metrics')
    .argument('<dirs...>', 'folders written by vggc compile (each served under its manifest name)')
    .option('--host <host>', 'address to listen on', d.host)
    .option('--port <n>', 'port (0 picks a free one)', integer(0, 65535), d.port)
    .option('--threads <n>', 'threads per model (default: available cores, at most the model\'s maximum)', integer(1))
    .option('--max-batch <n>', 'most images in one batch (1: no dynamic batching)', integer(1), d.maxBatch)
    .option('--batch-window-ms <ms>', 'how long a batch waits for more requests', integer(0, MAX_TIMER_MS), d.batchWindowMs)
    .option('--max-queue <n>', 'requests that may wait per model; more are answered 503 with Retry-After', integer(1), d.maxQueue)
    .option('--max-body <size>', 'largest request body, e.g. 512KiB or 64MiB; larger is answered 413', size, d.maxBody)
    .option('--queue-timeout-ms <ms>', 'a request waiting longer for its batch is answered 504 (0: no limit)', integer(0, MAX_TIMER_MS), d.queueTimeoutMs)
    .option('--grace-ms <ms>', 'after SIGTERM/SIGINT, how long requests already received may take', integer(0, MAX_TIMER_MS), d.graceMs)
    .option('--log', 'structured request logs (JSON lines, pino) on stderr')
    .action(async (dirs: string[], o: ServeFlags) => {
      const server = await startServer(dirs, { ...o, log: Boolean(o.log), version: packageVersion() });
      console.log(`listening on ${server.url}`);
      process.exitCode = await server.closed;
      // Nothing should be left running; if something is, it must not keep a drained server alive.
      setTimeout(() => process.exit(), 2_000).unref();
    });
}

function integer(min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) throw new InvalidArgumentError(`expected an integer from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}`);
    return n;
  };
}

function size(v: string): number {
  const n = parseSize(v);
  if (n === null) throw new InvalidArgumentError('expected a size such as 65536, 512KiB or 64MiB');
  return n;
}
