/**
 * `vggc serve` as a function: load every model folder (each in its own worker, deterministic
 * build), refuse two models of one name, listen, and on SIGTERM/SIGINT drain: stop accepting, answer
 * every request already received, then exit 0. Past the grace period the remaining connections are
 * cut and the exit code is 1; a second signal cuts them at once.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VggcError } from '../format/errors.js';
import { buildApp, type App } from './app.js';
import { WorkerEngine, type Engine } from './engine.js';
import { checkServeOptions, type ServeOptions } from './options.js';

export interface RunningServer {
  readonly app: App;
  /** `http://host:port` with the port actually bound. */
  readonly url: string;
  /** Resolves with the exit code once the server has shut down (after a signal or shutdown()). */
  readonly closed: Promise<number>;
  shutdown(reason: string): Promise<number>;
}

export async function startServer(dirs: readonly string[], opts: ServeOptions & { version: string; onLine?: (line: string) => void }): Promise<RunningServer> {
  checkServeOptions(opts);
  checkUniqueNames(dirs);
  const engines: Engine[] = [];
  try {
    for (const dir of dirs) {
      engines.push(await WorkerEngine.start(dir, opts.threads));
      checkUniqueNames(dirs, engines); // the folders' names were read before loading; this is what loaded
    }
  } catch (e) {
    await Promise.all(engines.map((engine) => engine.close()));
    throw e;
  }
  const app = buildApp(engines, { ...opts, windowMs: opts.batchWindowMs });
  try {
    await app.fastify.listen({ host: opts.host, port: opts.port });
  } catch (e) {
    await Promise.all(engines.map((engine) => engine.close()));
    const code = (e as NodeJS.ErrnoException).code;
    throw new VggcError(`cannot listen on ${opts.host}:${opts.port}: ${code === 'EADDRINUSE' ? 'the address is already in use' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
  }
  const address = app.fastify.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const url = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
  const say = opts.onLine ?? ((line: string) => process.stderr.write(`${line}\n`));

  let stopping: Promise<number> | null = null;
  let resolveClosed!: (code: number) => void;
  const closed = new Promise<number>((resolve) => (resolveClosed = resolve));
  const shutdown = (reason: string): Promise<number> => {
    if (stopping) {
      say(`${reason} again: closing every connection now`);
      app.fastify.server.closeAllConnections();
      return stopping;
    }
    say(`${reason}: not accepting new connections; finishing the requests already received (at most ${opts.graceMs} ms)`);
    stopping = (async () => {
      let forced = false;
      const grace = setTimeout(() => {
        forced = true;
        say(`grace period of ${opts.graceMs} ms is over: closing the remaining connections`);
        app.fastify.server.closeAllConnections();
      }, opts.graceMs);
      const drained = app.drain(); // queued batches go out now instead of waiting for their window
      await app.fastify.close(); // resolves once every connection has been answered and closed
      await drained;
      clearTimeout(grace);
      await Promise.all(engines.map((engine) => engine.close()));
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      return forced ? 1 : 0;
    })();
    void stopping.then(resolveClosed);
    return stopping;
  };
  const onTerm = (): void => void shutdown('SIGTERM');
  const onInt = (): void => void shutdown('SIGINT');
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  return { app, url, closed, shutdown };
}

/** Two folders with one manifest name would make /v2/models/{name} ambiguous: refuse before loading either. */
function checkUniqueNames(dirs: readonly string[], engines?: readonly Engine[]): void {
  const seen = new Map<string, string>();
  dirs.forEach((dir, i) => {
    const name = engines ? engines[i]?.manifest.name : manifestName(dir);
    if (name === undefined) return;
    const other = seen.get(name);
    if (other !== undefined) throw new VggcError(`${other} and ${dir} both hold a model named ${JSON.stringify(name)}; each served model needs its own name`);
    seen.set(name, dir);
  });
}

/** The name in DIR/model.json, or undefined if it cannot be read (then loading it reports why). */
function manifestName(dir: string): string | undefined {
  try {
    const name = (JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { name?: unknown }).name;
    return typeof name === 'string' ? name : undefined;
  } catch {
    return undefined;
  }
}
