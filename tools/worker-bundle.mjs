#!/usr/bin/env node
// @ts-check
/**
 * Packs a compiled model folder into a folder a Cloudflare Worker (workerd) can import: the
 * deterministic model.wasm (imported as a compiled WebAssembly.Module: Workers may not compile code
 * at run time), weights.bin (imported as an ArrayBuffer), model.json (a JSON module), the runtime's
 * platform-neutral modules (dist/runtime/workers.js and what it imports) and model.js, which ties
 * them together. It also writes an example worker.js (POST N×C×H×W float32 → N×classes float32)
 * and a workerd config, config.capnp, that serves it.
 *
 *   npm run build && node tools/worker-bundle.mjs build/fashion-mnist build/fashion-mnist-worker [--port 8787]
 *   .runtimes/node_modules/@cloudflare/workerd-linux-64/bin/workerd serve build/fashion-mnist-worker/config.capnp
 *
 * Single-threaded: a Worker has no Web Workers to share the memory with.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, posix, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist/runtime');
/** Workers' own limits (README, "Workers"): a bundle above this will not deploy on a paid plan. */
const PAID_PLAN_BUNDLE_BYTES = 10 * 1024 * 1024;

/**
 * @param {{ modelDir: string, outDir: string, port?: number }} o
 * @returns {{ files: string[], bytes: number }}
 */
export function writeWorkerBundle({ modelDir, outDir, port = 8787 }) {
  const manifestPath = join(modelDir, 'model.json');
  /** @type {any} */
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch (e) {
    throw new Error(`${manifestPath}: ${e instanceof SyntaxError ? `invalid JSON (${e.message})` : `cannot read (${/** @type {any} */ (e).code ?? e}); is ${modelDir} a folder written by vggc compile?`}`);
  }
  if (!existsSync(join(DIST, 'workers.js'))) throw new Error(`${DIST}/workers.js is missing: run \`npm run build\` first`);
  checkReplaceable(outDir, modelDir);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  copyFileSync(join(modelDir, manifest.wasm.file), join(outDir, 'model.wasm'));
  // One weights.bin, the shards in order: loadModelFromBytes cuts it along model.json's shards and checks each.
  writeFileSync(join(outDir, 'weights.bin'), Buffer.concat(manifest.weights.shards.map((s) => readFileSync(join(modelDir, s.file)))));
  // The bundle carries one build, so the manifest names just it (the loader checks the wasm against it).
  writeFileSync(join(outDir, 'model.json'), JSON.stringify({ ...manifest, wasm: { ...manifest.wasm, file: 'model.wasm', relaxed: null } }));

  const runtimeModules = reachableModules('workers.js');
  for (const rel of runtimeModules) {
    mkdirSync(dirname(join(outDir, 'vggc', rel)), { recursive: true });
    copyFileSync(join(DIST, rel), join(outDir, 'vggc', rel));
  }
  writeFileSync(join(outDir, 'model.js'), MODEL_JS);
  writeFileSync(join(outDir, 'worker.js'), WORKER_JS);
  const esModules = ['worker.js', 'model.js', ...runtimeModules.map((m) => posix.join('vggc', m))];
  writeFileSync(join(outDir, 'config.capnp'), capnp(esModules, port));
  const files = [...esModules, 'model.json', 'model.wasm', 'weights.bin'];
  const bytes = files.reduce((s, f) => s + readFileSync(join(outDir, f)).length, 0);
  return { files, bytes };
}

/** What a bundle folder holds: only such a folder (or an empty one) is replaced. */
const BUNDLE_ENTRIES = new Set(['config.capnp', 'model.js', 'worker.js', 'model.json', 'model.wasm', 'weights.bin', 'vggc']);

/**
 * The bundle replaces OUT_DIR as a whole, so OUT_DIR must be new, empty or an earlier bundle, and
 * neither the model folder nor a folder holding it.
 * @param {string} outDir
 * @param {string} modelDir
 */
function checkReplaceable(outDir, modelDir) {
  const rel = relative(resolve(outDir), resolve(modelDir));
  if (rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel))) throw new Error(`${outDir}: is or holds the model folder ${modelDir}; give another folder for the bundle`);
  if (!existsSync(outDir)) return;
  if (!statSync(outDir).isDirectory()) throw new Error(`${outDir}: exists and is not a directory`);
  const foreign = readdirSync(outDir).filter((name) => !BUNDLE_ENTRIES.has(name));
  if (foreign.length) throw new Error(`${outDir}: exists and is not a worker bundle (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}); give a new or empty folder, or delete it first`);
}

/** dist/runtime modules reachable from `entry` by relative imports (paths relative to dist/runtime). */
function reachableModules(entry) {
  const seen = new Set();
  const visit = (rel) => {
    if (seen.has(rel)) return;
    seen.add(rel);
    // Comments hold usage examples with import lines of their own: drop them first.
    const text = readFileSync(join(DIST, rel), 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    for (const [, spec] of text.matchAll(/(?:from|import)\s*\(?\s*['"](\.{1,2}\/[^'"]+)['"]/g)) {
      const target = posix.normalize(posix.join(posix.dirname(rel), spec));
      if (target.startsWith('..')) throw new Error(`${rel} imports ${spec}, outside dist/runtime`);
      visit(target);
    }
  };
  visit(entry);
  return [...seen].sort();
}

const MODEL_JS = `// Generated by tools/worker-bundle.mjs: the model's files as a Worker imports them.
import manifest from './model.json';
import wasm from './model.wasm';
import weights from './weights.bin';
import { loadModelFromBytes } from './vggc/workers.js';

export { manifest };
export { topK, softmax, VggcError, isVggcError } from './vggc/workers.js';

/** Loads the model on this thread (deterministic build). Keep the result for the isolate's lifetime. */
export function loadModel(options = {}) {
  return loadModelFromBytes({ manifest, wasm, weights }, { label: manifest.name, ...options });
}
`;

const WORKER_JS = `// Generated by tools/worker-bundle.mjs: an example Worker. POST the N×C×H×W float32 bytes of N
// images, get the N×classes float32 logits back. GET answers what the model is.
import { loadModel, manifest } from './model.js';

let model; // loaded once per isolate, on the first request
export default {
  async fetch(request) {
    model ??= loadModel();
    const m = await model;
    if (request.method !== 'POST') return Response.json({ name: manifest.name, inputShape: m.inputShape, numClasses: m.numClasses, build: m.build, threads: m.threads });
    const bytes = await request.arrayBuffer();
    const [c, h, w] = m.inputShape;
    const n = bytes.byteLength / (4 * c * h * w);
    try {
      const t0 = Date.now();
      const logits = await m.infer(new Float32Array(bytes), Number.isInteger(n) && n > 0 ? n : 1);
      // Workers advance Date.now() only across I/O, so this reads 0 in production; workerd serve ticks.
      const ms = Date.now() - t0;
      return new Response(logits, { headers: { 'content-type': 'application/octet-stream', 'x-vggc-build': m.build, 'x-vggc-infer-ms': String(ms) } });
    } catch (e) {
      return new Response(String(e?.message ?? e), { status: 400 });
    }
  },
};
`;

/** A workerd config serving worker.js on 127.0.0.1:port. */
function capnp(esModules, port) {
  const modules = [
    ...esModules.map((m) => `(name = "${m}", esModule = embed "${m}")`),
    '(name = "model.json", json = embed "model.json")',
    '(name = "model.wasm", wasm = embed "model.wasm")',
    '(name = "weights.bin", data = embed "weights.bin")',
  ];
  return `# Generated by tools/worker-bundle.mjs. Run: workerd serve config.capnp
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "vggc", worker = .vggcWorker) ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "vggc") ],
);

const vggcWorker :Workerd.Worker = (
  modules = [
    ${modules.join(',\n    ')},
  ],
  compatibilityDate = "2026-11-01",
);
`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { port: { type: 'string', default: '8787' } } });
  if (positionals.length !== 2) {
    console.error('usage: node tools/worker-bundle.mjs MODEL_DIR OUT_DIR [--port N]');
    process.exit(2);
  }
  const [modelDir, outDir] = positionals;
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    console.error(`error: --port must be an integer from 1 to 65535, found ${values.port}`);
    process.exit(2);
  }
  /** @type {{ files: string[], bytes: number }} */
  let written;
  try {
    written = writeWorkerBundle({ modelDir, outDir, port });
  } catch (e) {
    console.error(`error: ${/** @type {Error} */ (e).message}`);
    process.exit(1);
  }
  const { files, bytes } = written;
  console.log(`wrote ${files.length} files, ${(bytes / 1e6).toFixed(2)} MB, into ${relative(process.cwd(), outDir) || '.'}`);
  if (bytes > PAID_PLAN_BUNDLE_BYTES) console.warn(`warning: ${(bytes / 1e6).toFixed(0)} MB is more than a Worker may upload (README, "Workers")`);
}
