// @ts-check
/**
 * One benchmark engine in its own process, driven by bench/run.mjs over IPC:
 *
 *   <runtime> bench/worker.mjs '<spec JSON>'      (forked with serialization: 'json'; Node, Deno or Bun)
 *
 * On start it loads the engine (timed: loadMs; separately prepMs for work a real deployment would not
 * do, such as drawing seeded random weights), runs the first inference (timed: firstMs; its logits go
 * back to the runner for the cross-engine check), then `spec.warmup` untimed runs, and says `ready`.
 * Then each `{ type: 'run', count }` gets back `{ type: 'times', times }` (ms per inference, input
 * upload and logits download included), and `{ type: 'exit' }` gets the peak RSS before exiting.
 * A spec with engine 'layers' runs the vggc per-layer breakdown instead and exits.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { benchInput, importDist, nchwToNhwc, ROOT } from './common.mjs';
import { layerBreakdown } from './layers.mjs';
import { adaptivePoolMatrix } from '../test/reference/adaptive-pool.mjs';

/**
 * @typedef {object} Spec
 * @property {string} engine     vggc | tfjs-wasm | tfjs-cpu | ort-web | ort-node | layers
 * @property {string} label
 * @property {string} model
 * @property {string} configPath
 * @property {number} batch
 * @property {number} seed
 * @property {number} warmup
 * @property {string} [dir]        vggc: compiled model folder
 * @property {object} [loadOptions] vggc: passed to loadModel / loadInstance
 * @property {string} [onnxPath]   ort-*: exported model
 * @property {number} [threads]    ort-*: intra-op threads
 * @property {number} [runs]       layers: timed passes
 */

/**
 * @typedef {object} Engine
 * @property {number} loadMs
 * @property {number} [prepMs]
 * @property {() => Promise<Float32Array>} run
 * @property {string[]} notes
 */

const send = (/** @type {any} */ msg) => new Promise((resolve) => /** @type {any} */ (process).send(msg, resolve));
const rssMB = () => process.resourceUsage().maxRSS / 1024;

class Unavailable extends Error {}

/** Which runtime runs this worker, for the results. */
function engineVersion() {
  const g = /** @type {any} */ (globalThis);
  if (g.Deno) return `Deno ${g.Deno.version.deno} (V8 ${g.Deno.version.v8})`;
  if (g.Bun) return `Bun ${g.Bun.version} (JavaScriptCore)`;
  return `Node ${process.version} (V8 ${process.versions.v8})`;
}

/** Dynamic import that turns "package not installed" into Unavailable. */
async function optionalImport(name, why) {
  try {
    return await import(name);
  } catch (e) {
    const code = /** @type {any} */ (e).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new Unavailable(`${name} is not installed${why ? ` (${why})` : ''}`);
    throw e;
  }
}

/** @param {Spec} spec @returns {Promise<Engine>} */
async function vggcEngine(spec) {
  const { loadModel } = await importDist('runtime/index.js');
  const t0 = performance.now();
  const model = await loadModel(/** @type {string} */ (spec.dir), spec.loadOptions ?? {});
  const loadMs = performance.now() - t0;
  const [c, h, w] = model.inputShape;
  const x = benchInput(spec.batch, c, h, w);
  return { loadMs, run: () => model.infer(x, spec.batch), notes: model.threads ? [`${model.threads} thread${model.threads > 1 ? 's' : ''}`] : [] };
}

/**
 * TensorFlow.js with vggc's seeded weights, laid out the way a converted TF model would hold them
 * (HWIO filters, [in, out] dense kernels, NHWC activations, the first dense layer's rows permuted so
 * that an NHWC flatten feeds it), conv+bias+ReLU and matMul+bias+ReLU as tf.fused ops.
 * @param {Spec} spec @param {'wasm' | 'cpu'} backend @returns {Promise<Engine>}
 */
async function tfjsEngine(spec, backend) {
  const tf = await import('@tensorflow/tfjs-core');
  tf.env().set('PROD', true); // silences the cpu backend's "install tfjs-node" banner
  const tLoad0 = performance.now();
  if (backend === 'wasm') {
    const wasm = await optionalImport('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(join(ROOT, 'node_modules/@tensorflow/tfjs-backend-wasm/dist/') + '/');
  } else {
    await optionalImport('@tensorflow/tfjs-backend-cpu');
  }
  if (!(await tf.setBackend(backend))) throw new Error(`tf.setBackend('${backend}') failed`);
  await tf.ready();
  let loadMs = performance.now() - tLoad0;

  const { readConfigFile } = await importDist('compiler/frontend/config/parse.js');
  const { buildGraph } = await importDist('compiler/graph/graph.js');
  const { seededRandomWeights } = await importDist('compiler/weights/random.js');
  const config = readConfigFile(spec.configPath);
  const graph = buildGraph(config);
  const source = seededRandomWeights(graph.params, spec.seed);
  const n = spec.batch;
  let prepMs = 0;
  /** Draws a parameter (timed as prep) and uploads it in `layout` (the upload is timed as load). @returns {any} */
  const upload = (param, shape, layout) => {
    const t0 = performance.now();
    const raw = source.readRows(param, 0, param.shape[0]);
    const data = layout ? layout(raw) : raw;
    const t1 = performance.now();
    const t = tf.tensor(data, shape);
    tf.keep(t);
    prepMs += t1 - t0;
    loadMs += performance.now() - t1;
    return t;
  };

  /** @type {((x: any) => any)[]} */
  const layers = [];
  /** How the next dense layer's input is ordered: 'nhwc' (flattened NHWC map of shape), or 'plain'. */
  /** @type {{ kind: 'nhwc', c: number, h: number, w: number } | { kind: 'plain' }} */
  let flatOrder = { kind: 'plain' };
  let alreadyFlat = false;
  const reluAfter = new Set(graph.ops.flatMap((op, i) => (op.kind === 'linear' && graph.ops[i + 1]?.kind === 'relu' ? [op.id] : [])));
  for (const op of graph.ops) {
    switch (op.kind) {
      case 'conv3x3': {
        const O = op.output.c;
        const I = op.input.c;
        // PyTorch [O, I, 3, 3] → TF HWIO [3, 3, I, O].
        const filter = upload(op.weight, [3, 3, I, O], (src) => {
          const dst = new Float32Array(src.length);
          for (let o = 0; o < O; o++) for (let i = 0; i < I; i++) for (let k = 0; k < 9; k++) dst[(k * I + i) * O + o] = src[(o * I + i) * 9 + k];
          return dst;
        });
        const bias = upload(op.bias, [O], null);
        layers.push((x) => tf.fused.conv2d({ x, filter, strides: 1, pad: 'same', bias, activation: 'relu' }));
        break;
      }
      case 'relu':
        break; // folded into the conv / dense op before it
      case 'maxpool2x2':
        layers.push((x) => tf.maxPool(x, 2, 2, 'valid'));
        break;
      case 'adaptiveAvgPool': {
        const { h, w, c } = op.input;
        const { h: oh, w: ow } = op.output;
        if (h === oh && w === ow) break; // identity (224×224 VGG: 7×7 → 7×7)
        // General case: through NCHW rows and a pooling matrix, as test/reference/tfjs-vgg.ts does.
        const m = adaptivePoolMatrix(h, w, oh, ow);
        const pool = tf.keep(tf.tensor2d(m, [h * w, oh * ow]));
        layers.push((x) => tf.reshape(tf.matMul(tf.reshape(tf.transpose(x, [0, 3, 1, 2]), [n * c, h * w]), pool), [n, c * oh * ow]));
        flatOrder = { kind: 'plain' };
        alreadyFlat = true;
        break;
      }
      case 'flatten': {
        if (alreadyFlat) break;
        const { c, h, w } = op.input;
        flatOrder = { kind: 'nhwc', c, h, w };
        layers.push((x) => tf.reshape(x, [n, h * w * c]));
        break;
      }
      case 'linear': {
        const In = op.inFeatures;
        const Out = op.outFeatures;
        const order = flatOrder;
        // PyTorch [out, in] with `in` in (c, y, x) order → [in, out] with `in` in the order the input arrives.
        const kernel = upload(op.weight, [In, Out], (src) => {
          const dst = new Float32Array(src.length);
          const row = order.kind === 'nhwc' ? nhwcIndex(order.c, order.h, order.w) : null;
          for (let o = 0; o < Out; o++) {
            const base = o * In;
            if (row) for (let k = 0; k < In; k++) dst[row[k] * Out + o] = src[base + k];
            else for (let k = 0; k < In; k++) dst[k * Out + o] = src[base + k];
          }
          return dst;
        });
        const bias = upload(op.bias, [Out], null);
        const activation = reluAfter.has(op.id) ? 'relu' : 'linear';
        layers.push((x) => tf.fused.matMul({ a: x, b: kernel, bias, activation }));
        flatOrder = { kind: 'plain' };
        break;
      }
    }
  }
  source.close();

  const [h0, w0] = config.inputSize;
  const c0 = config.blocks[0][0];
  const x = nchwToNhwc(benchInput(n, c0, h0, w0), n, c0, h0, w0);
  const run = async () => {
    const y = tf.tidy(() => layers.reduce((t, f) => /** @type {any} */ (f)(t), tf.tensor4d(x, [n, h0, w0, c0])));
    const data = /** @type {Float32Array} */ (await y.data());
    y.dispose();
    return data;
  };
  return { loadMs, prepMs, run, notes: [`backend ${tf.getBackend()}`] };
}

/** For a (c, h, w) map: PyTorch flatten index (c·h·w order) → NHWC flatten index. */
function nhwcIndex(c, h, w) {
  const idx = new Uint32Array(c * h * w);
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) idx[(ch * h + y) * w + x] = (y * w + x) * c + ch;
  return idx;
}

/** @param {Spec} spec @param {'web' | 'node'} flavour @returns {Promise<Engine>} */
async function ortEngine(spec, flavour) {
  const threads = spec.threads ?? 1;
  /** @type {any} */
  let ort;
  if (flavour === 'web') {
    ort = await optionalImport('onnxruntime-web');
    ort.env.wasm.numThreads = threads;
  } else {
    // BENCH_ORT_NODE may name a folder whose node_modules has onnxruntime-node (tried without adding it to the project).
    const prefix = process.env.BENCH_ORT_NODE;
    ort = prefix
      ? createRequire(join(prefix, 'package.json'))('onnxruntime-node')
      : await optionalImport('onnxruntime-node', 'optional: ONNXRUNTIME_NODE_INSTALL=skip npm i onnxruntime-node, or BENCH_ORT_NODE=<folder with it in node_modules>');
    ort = ort.default ?? ort;
  }
  ort.env.logLevel = 'error';
  const t0 = performance.now();
  // Node's native binding reads the file itself; the wasm build gets the bytes (reading them is part of load).
  const model = flavour === 'web' ? new Uint8Array(readFileSync(/** @type {string} */ (spec.onnxPath))) : spec.onnxPath;
  /** @type {any} */
  const options = flavour === 'web' ? { executionProviders: ['wasm'], graphOptimizationLevel: 'all' } : { executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads, interOpNumThreads: 1 };
  const session = await ort.InferenceSession.create(model, options);
  const loadMs = performance.now() - t0;
  const { readConfigFile } = await importDist('compiler/frontend/config/parse.js');
  const config = readConfigFile(spec.configPath);
  const [h, w] = config.inputSize;
  const c = config.blocks[0][0];
  const x = benchInput(spec.batch, c, h, w);
  const inName = session.inputNames[0];
  const outName = session.outputNames[0];
  const run = async () => {
    const out = await session.run({ [inName]: new ort.Tensor('float32', x, [spec.batch, c, h, w]) });
    const y = out[outName];
    const data = /** @type {Float32Array} */ (y.data);
    y.dispose?.();
    return data;
  };
  return { loadMs, run, notes: [`${threads} thread${threads > 1 ? 's' : ''}`, 'own exported weights (timing only)'] };
}

/** @param {Spec} spec */
async function makeEngine(spec) {
  switch (spec.engine) {
    case 'vggc':
      return vggcEngine(spec);
    case 'tfjs-wasm':
      return tfjsEngine(spec, 'wasm');
    case 'tfjs-cpu':
      return tfjsEngine(spec, 'cpu');
    case 'ort-web':
      return ortEngine(spec, 'web');
    case 'ort-node':
      return ortEngine(spec, 'node');
    default:
      throw new Error(`unknown engine ${spec.engine}`);
  }
}

async function main() {
  /** @type {Spec} */
  const spec = JSON.parse(process.argv[2]);
  if (spec.engine === 'layers') {
    const rows = await layerBreakdown(/** @type {string} */ (spec.dir), { runs: spec.runs, warmup: spec.warmup, loadOptions: spec.loadOptions });
    await send({ type: 'layers', rows, maxRssMB: rssMB() });
    process.exit(0);
  }
  const engine = await makeEngine(spec);
  const t0 = performance.now();
  const logits = await engine.run();
  const firstMs = performance.now() - t0;
  for (let i = 0; i < spec.warmup; i++) await engine.run();
  process.on('message', async (/** @type {any} */ msg) => {
    if (msg.type === 'run') {
      const times = [];
      for (let i = 0; i < msg.count; i++) {
        const s = performance.now();
        await engine.run();
        times.push(performance.now() - s);
      }
      await send({ type: 'times', times });
    } else if (msg.type === 'exit') {
      await send({ type: 'bye', maxRssMB: rssMB() });
      process.exit(0);
    }
  });
  await send({ type: 'ready', loadMs: engine.loadMs, prepMs: engine.prepMs ?? null, firstMs, logits: Array.from(logits), notes: engine.notes, engineVersion: engineVersion(), rssAfterLoadMB: rssMB() });
}

main().catch(async (e) => {
  if (e instanceof Unavailable) await send({ type: 'unavailable', reason: e.message });
  else await send({ type: 'error', message: e?.stack ?? String(e) });
  process.exit(1);
});
