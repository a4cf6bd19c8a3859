// @ts-check
/**
 * The Fashion-MNIST model in workerd, Cloudflare's Workers runtime: bundled by
 * tools/worker-bundle.mjs, served by `workerd serve` on a free loopback port, sent the 50 sample
 * images. Its logits must be Node's, bit for bit (deterministic build, one thread), and a wrong input
 * length must come back as the runtime's one-line message.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { probe, ROOT, WORKERD } from '../../tools/runtimes/runtimes.mjs';
import { writeWorkerBundle } from '../../tools/worker-bundle.mjs';

const START_TIMEOUT_MS = 30_000;
const sha256 = (/** @type {Uint8Array} */ b) => createHash('sha256').update(b).digest('hex');

/**
 * @param {{ work: string, fashionDir: string, input: string }} o
 * @returns {Promise<{ name: string, ok: boolean, detail: string }[]>}
 */
export async function runWorkerdCheck({ work, fashionDir, input }) {
  const p = probe(WORKERD);
  if (!p.ok) return [{ name: 'workerd is installed', ok: false, detail: p.reason }];
  const { loadModel, readNpy } = await import(pathToFileURL(join(ROOT, 'dist/runtime/index.js')).href);
  const x = readNpy(input);
  const node = await loadModel(fashionDir, { threads: 1 });
  const expected = await node.infer(x.data, x.shape[0]);
  const [c, h, w] = node.inputShape;
  node.dispose();

  const port = await freePort();
  const outDir = join(work, 'fashion-mnist-worker');
  const bundle = writeWorkerBundle({ modelDir: fashionDir, outDir, port });
  const server = spawn(WORKERD.bin, ['serve', join(outDir, 'config.capnp')], { cwd: outDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  server.stdout.on('data', (d) => (log += d));
  server.stderr.on('data', (d) => (log += d));
  const url = `http://127.0.0.1:${port}/`;
  const checks = [];
  const check = (name, ok, detail) => checks.push({ name, ok, detail });
  try {
    const info = await waitForServer(url, server);
    if (!info) {
      check('serves the bundled model', false, `no answer within ${START_TIMEOUT_MS / 1000} s: ${log.trim().split('\n').slice(-3).join(' | ')}`);
      return checks;
    }
    check(`loads the bundle (${bundle.files.length} modules, ${(bundle.bytes / 1e6).toFixed(2)} MB) on one thread, deterministic build`, info.build === 'deterministic' && info.threads === 1 && info.inputShape.join() === [c, h, w].join(), `${p.version}: ${JSON.stringify(info)}`);

    const body = new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength);
    const res = await fetch(url, { method: 'POST', body });
    const got = new Uint8Array(await res.arrayBuffer());
    const want = new Uint8Array(expected.buffer, expected.byteOffset, expected.byteLength);
    check(`${x.shape[0]} sample images: logits bit-identical to Node's`, res.status === 200 && sha256(got) === sha256(want), `status ${res.status}, sha256 ${sha256(got).slice(0, 16)}… vs Node ${sha256(want).slice(0, 16)}…, ${res.headers.get('x-vggc-infer-ms')} ms in the Worker`);

    const bad = await fetch(url, { method: 'POST', body: new Uint8Array(400) });
    const message = await bad.text();
    const wanted = `infer: input has 100 floats but 1 image(s) of ${c}×${h}×${w} need ${c * h * w}`;
    check('a wrong input length is the runtime\'s one-line VggcError', bad.status === 400 && message === wanted, `${bad.status} ${JSON.stringify(message)}`);
    return checks;
  } finally {
    server.kill();
  }
}

/** A free loopback port (asked of the OS, then released for workerd). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** Polls GET until the Worker answers (its JSON), or null after the timeout or if workerd exited. */
async function waitForServer(url, server) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline && server.exitCode === null) {
    try {
      const res = await fetch(url);
      if (res.ok) return await res.json();
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return null;
}
