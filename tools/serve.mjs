#!/usr/bin/env node
// `npm run serve [-- --port N]`: a small static server for the browser examples and tests.
// Serves the repository root on 127.0.0.1 with the headers that make a page cross-origin isolated
// (needed for SharedArrayBuffer / shared WebAssembly.Memory, hence for threads), on every response,
// 404s included. Refuses paths outside the root.
import { createReadStream, promises as fsp } from 'node:fs';
import { createServer } from 'node:http';
import { pipeline } from 'node:stream';
import { extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
  '.ts': 'text/plain; charset=utf-8',
  '.bin': 'application/octet-stream',
  '.npy': 'application/octet-stream',
};

const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** Where `/` sends a newcomer: the demo. */
export const HOME = '/examples/browser/index.html';

/**
 * Starts the server. `isolate: false` leaves out COOP/COEP (to test the single-thread fallback);
 * `ranges: false` ignores Range headers, like a server without range support; `throttle` sends file
 * bodies at most that many bytes per second (a slow connection, in any browser); `intercept(pathname,
 * req, res)` may answer a request itself by returning true (the tests fail or count requests with it).
 * Resolves to { server, port, url, close() }.
 */
export function startServer({ root = '.', port = 8080, host = '127.0.0.1', isolate = true, ranges = true, log = false, throttle = 0, intercept = null } = {}) {
  const rootDir = resolve(root);
  const server = createServer(async (req, res) => {
    const headers = { 'Cache-Control': 'no-store', ...(isolate ? ISOLATION_HEADERS : { 'Cross-Origin-Resource-Policy': 'same-origin' }) };
    const send = (status, text) => {
      res.writeHead(status, { ...headers, 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(req.method === 'HEAD' ? undefined : `${text}\n`);
      if (log) console.log(`${status} ${req.method} ${req.url}`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed');
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      return send(400, 'bad request');
    }
    if (pathname.includes('\0')) return send(400, 'bad request');
    if (intercept?.(pathname, req, res)) return;
    if (pathname === '/') {
      res.writeHead(302, { ...headers, Location: HOME });
      if (log) console.log(`302 ${req.method} / → ${HOME}`);
      return res.end();
    }
    let file = resolve(join(rootDir, pathname));
    if (file !== rootDir && !file.startsWith(rootDir + sep)) return send(403, 'forbidden: outside the served folder');
    try {
      let st = await fsp.stat(file);
      if (st.isDirectory()) {
        if (!pathname.endsWith('/')) {
          res.writeHead(301, { ...headers, Location: `${pathname}/` });
          return res.end();
        }
        file = join(file, 'index.html');
        st = await fsp.stat(file);
      }
      if (!st.isFile()) return send(404, 'not found');
      // The resolved file (symlinks followed) must still be inside the root.
      const real = await fsp.realpath(file);
      const realRoot = await fsp.realpath(rootDir);
      if (real !== realRoot && !real.startsWith(realRoot + sep)) return send(403, 'forbidden: outside the served folder');
      const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
      // One byte range (`bytes=a-b`, `bytes=a-`), as static servers and CDNs answer them (the browser
      // loader fetches whole shards, but other clients may ask for ranges). Anything else gets the whole file.
      const range = ranges ? /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? '')) : null;
      let start = 0;
      let end = st.size - 1;
      let status = 200;
      if (range) {
        start = Number(range[1]);
        end = range[2] === '' ? st.size - 1 : Math.min(Number(range[2]), st.size - 1);
        if (start > end || start >= st.size) {
          res.writeHead(416, { ...headers, 'Content-Range': `bytes */${st.size}` });
          return res.end();
        }
        status = 206;
      }
      res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': end - start + 1, ...(ranges ? { 'Accept-Ranges': 'bytes' } : {}), ...(status === 206 ? { 'Content-Range': `bytes ${start}-${end}/${st.size}` } : {}) });
      if (log) console.log(`${status} ${req.method} ${pathname}`);
      if (req.method === 'HEAD' || st.size === 0) return res.end();
      // 1 MiB reads: the default 64 KiB made the server itself the bottleneck for a 642 MB file.
      const body = createReadStream(file, { start, end, highWaterMark: throttle ? 16 << 10 : 1 << 20 });
      if (!throttle) return void body.on('error', () => res.destroy()).pipe(res);
      pipeline(body, paced(throttle), res, () => undefined);
    } catch {
      send(404, 'not found');
    }
  });
  return new Promise((resolveStart, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const actual = server.address().port;
      resolveStart({
        server,
        port: actual,
        url: `http://${host}:${actual}`,
        close: () =>
          new Promise((r) => {
            server.close(() => r());
            // Browsers keep connections alive; without this close() would wait for them to time out.
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** Passes chunks on no faster than `bytesPerSecond`. */
function paced(bytesPerSecond) {
  return async function* (source) {
    const started = Date.now();
    let sent = 0;
    for await (const chunk of source) {
      sent += chunk.length;
      const due = started + (1000 * sent) / bytesPerSecond - Date.now();
      if (due > 0) await new Promise((r) => setTimeout(r, due));
      yield chunk;
    }
  };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const value = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
  };
  const port = Number(value('--port') ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`error: --port must be an integer 0–65535, found ${value('--port')}`);
    process.exit(2);
  }
  const root = fileURLToPath(new URL('..', import.meta.url));
  const throttle = Number(value('--throttle') ?? 0);
  if (!Number.isFinite(throttle) || throttle < 0) {
    console.error(`error: --throttle must be bytes per second ≥ 0, found ${value('--throttle')}`);
    process.exit(2);
  }
  const { url } = await startServer({ root, port, isolate: !args.includes('--no-isolation'), log: args.includes('--verbose'), throttle });
  console.log(`serving ${root} at ${url}/ (cross-origin isolated${args.includes('--no-isolation') ? ': no' : ''}${throttle ? `; files at ${throttle} bytes/s` : ''})`);
  console.log(`  ${url}/ redirects to the demo: ${url}${HOME}`);
  console.log(`  bench:          ${url}/examples/browser/bench.html`);
  console.log(`  VGG-11 loading: ${url}/examples/browser/load.html (compile build/vgg11-int8 first: see README, "Deploying to the web")`);
}
