/**
 * Checks a parsed model.json before anything is allocated: a manifest that was edited by hand or
 * belongs to another version must give a clear error, never an out-of-bounds write in wasm memory.
 */
import { VggcError } from './errors.js';
import { MANIFEST_FORMAT, MANIFEST_VERSION, type Manifest } from './manifest.js';
import { RUN_PARAMS_BYTES } from './run-params.js';
import { checkShards, isPlainFileName } from './shards.js';

const PAGE = 65536;
const MAX_PAGES = 65536;

export function checkManifest(raw: unknown, file: string): Manifest {
  const fail = (msg: string): never => {
    throw new VggcError(`${file}: ${msg}`);
  };
  if (typeof raw !== 'object' || raw === null) fail('expected a JSON object');
  const m = raw as Manifest;
  if (m.format !== MANIFEST_FORMAT) fail(`not a vggc model manifest (format is ${JSON.stringify(m.format)}, expected "${MANIFEST_FORMAT}")`);
  if (m.formatVersion !== MANIFEST_VERSION) fail(`manifest version ${m.formatVersion} is not supported by this runtime (expected ${MANIFEST_VERSION}); recompile the model`);
  const int = (v: unknown, field: string, min = 0): number => {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) fail(`${field} must be an integer ≥ ${min}, found ${JSON.stringify(v)}`);
    return v as number;
  };
  const pages = int(m.memory?.pages, 'memory.pages', 1);
  int(m.memory.maxWorkers, 'memory.maxWorkers', 1);
  // Every model imports a shared memory; a false here disagrees with model.wasm's tag, which says so.
  if (typeof m.memory.shared !== 'boolean') fail(`memory.shared must be true or false, found ${JSON.stringify(m.memory.shared)}`);
  if (pages > MAX_PAGES) fail(`memory.pages is ${pages}, more than WebAssembly's ${MAX_PAGES}`);
  const limit = pages * PAGE;
  const inside = (start: number, bytes: number, what: string): void => {
    if (start + bytes > limit) fail(`${what} (bytes ${start}–${start + bytes}) lies outside the model's ${limit}-byte memory`);
  };
  const aligned = (v: unknown, field: string): number => {
    const n = int(v, field);
    if (n % 16) fail(`${field} is ${n}, not a multiple of 16`);
    return n;
  };
  const [c, h, w] = Array.isArray(m.input?.shape) ? m.input.shape : fail('input.shape is missing');
  inside(aligned(m.input.offset, 'input.offset'), int(c, 'input.shape[0]', 1) * int(h, 'input.shape[1]', 1) * int(w, 'input.shape[2]', 1) * 4, 'the input');
  inside(aligned(m.memory.arenaBase, 'memory.arenaBase'), int(m.memory.arenaBytes, 'memory.arenaBytes'), 'the activation arena');
  const maxBatch = int(m.maxBatch, 'maxBatch', 1);
  checkOutputs(m, maxBatch, fail, int, aligned, inside);
  inside(aligned(m.memory.params, 'memory.params'), RUN_PARAMS_BYTES, 'the run parameters');
  inside(aligned(m.memory.weightsBase, 'memory.weightsBase'), int(m.weights?.payloadBytes, 'weights.payloadBytes'), 'the weights');
  if (typeof m.weights.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.weights.sha256)) fail('weights.sha256 must be 64 hex digits');
  if (!Array.isArray(m.steps) || m.steps.length === 0) fail('steps must be a non-empty list');
  m.steps.forEach((s, i) => {
    if (typeof s !== 'object' || s === null) fail(`steps[${i}] must be an object, found ${JSON.stringify(s)}`);
    if (typeof s.function !== 'string') fail(`steps[${i}].function must be a string`);
    const items = int(s.workItems, `steps[${i}].workItems`, 1);
    // A hint for sharing work between threads (any value gives the same results), so not in the wasm tag.
    if (s.workGrain !== undefined && int(s.workGrain, `steps[${i}].workGrain`, 1) > items) fail(`steps[${i}].workGrain is ${s.workGrain}, more than the step's ${items} work items`);
    if (s.phase !== 'image' && s.phase !== 'batch') fail(`steps[${i}].phase must be "image" or "batch", found ${JSON.stringify(s.phase)}`);
  });
  if (m.prepare !== undefined && !Array.isArray(m.prepare)) fail('prepare must be a list');
  (m.prepare ?? []).forEach((p, i) => {
    if (typeof p !== 'object' || p === null || typeof p.function !== 'string') fail(`prepare[${i}].function must be a string`);
    int(p.workItems, `prepare[${i}].workItems`, 1);
  });
  if (m.wasm?.relaxed !== null && typeof m.wasm?.relaxed !== 'object') fail('wasm.relaxed must be an object or null');
  const wasmFiles = [m.wasm?.file, ...(m.wasm.relaxed ? [m.wasm.relaxed.file] : [])];
  for (const f of wasmFiles) {
    if (!isPlainFileName(f)) fail(`file name ${JSON.stringify(f)} must be a plain name inside the model folder`);
  }
  checkShards(m.weights.shards, m.weights.payloadBytes, ['model.json', ...(wasmFiles as string[])], fail);
  checkDescription(m, [c, h, w], fail, int);
  return m;
}

/**
 * What predict, embed and serve read beside the kernels' layout: the config's input size and
 * classes, the class names and the preprocessing, which must describe the model's own input.
 */
function checkDescription(m: Manifest, [c, h, w]: readonly number[], fail: Fail, int: Int): void {
  if (typeof m.name !== 'string') fail(`name must be a string, found ${JSON.stringify(m.name)}`);
  const config = m.config;
  if (typeof config !== 'object' || config === null || Array.isArray(config)) fail(`config must be an object, found ${JSON.stringify(config)}`);
  const size = Array.isArray(config.inputSize) && config.inputSize.length === 2 ? config.inputSize : fail(`config.inputSize must be [height, width], found ${JSON.stringify(config.inputSize)}`);
  if (int(size[0], 'config.inputSize[0]', 1) !== h || int(size[1], 'config.inputSize[1]', 1) !== w) fail(`config.inputSize ${JSON.stringify(size)} is not the input's ${h}×${w}`);
  const classes = int(config.numClasses, 'config.numClasses', 1);
  if (m.labels !== null) {
    if (!Array.isArray(m.labels) || m.labels.length !== classes) fail(`labels must be null or a list of ${classes} names (config.numClasses), found ${describeList(m.labels)}`);
    const bad = (m.labels as unknown[]).findIndex((l) => typeof l !== 'string');
    if (bad >= 0) fail(`labels[${bad}] must be a string, found ${JSON.stringify(m.labels[bad])}`);
  }
  const p = m.preprocessing;
  if (typeof p !== 'object' || p === null || Array.isArray(p)) fail(`preprocessing must be an object, found ${JSON.stringify(p)}`);
  if (p.channels !== c) fail(`preprocessing.channels must be the input's ${c} channels, found ${JSON.stringify(p.channels)}`);
  const r = p.resize as { shorterSide?: unknown; fit?: unknown } | undefined;
  const resizeOk = typeof r === 'object' && r !== null && (('shorterSide' in r && Number.isSafeInteger(r.shorterSide) && (r.shorterSide as number) >= 1) || ('fit' in r && Array.isArray(r.fit) && r.fit.length === 2 && r.fit.every((n) => Number.isSafeInteger(n) && n >= 1)));
  if (!resizeOk) fail(`preprocessing.resize must be { "shorterSide": N } or { "fit": [height, width] }, found ${JSON.stringify(r)}`);
  for (const field of ['mean', 'std'] as const) {
    const v = p[field] as unknown;
    if (!Array.isArray(v) || v.length !== c || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) fail(`preprocessing.${field} must be ${c} finite numbers, found ${JSON.stringify(v)}`);
  }
  if (p.std.some((x) => x === 0)) fail(`preprocessing.std must not hold 0 (every pixel would divide by it), found ${JSON.stringify(p.std)}`);
  if (p.channelOrder !== undefined && p.channelOrder !== 'rgb' && p.channelOrder !== 'bgr') fail(`preprocessing.channelOrder must be "rgb" or "bgr", found ${JSON.stringify(p.channelOrder)}`);
  const range = p.pixelRange;
  if (range !== undefined && !(Array.isArray(range) && range.length === 2 && range[0] === 0 && (range[1] === 1 || range[1] === 255))) fail(`preprocessing.pixelRange must be [0, 1] or [0, 255], found ${JSON.stringify(range)}`);
}

const describeList = (v: unknown): string => (Array.isArray(v) ? `${v.length} entries` : JSON.stringify(v));

type Fail = (msg: string) => never;
type Int = (v: unknown, field: string, min?: number) => number;

/**
 * Each output's tensor lies inside memory and holds its shape: a map's stored rows, columns and
 * channels cover its interior (plus the frame), a vector's per-image stride its features.
 */
function checkOutputs(m: Manifest, maxBatch: number, fail: Fail, int: Int, aligned: (v: unknown, field: string) => number, inside: (start: number, bytes: number, what: string) => void): void {
  if (!Array.isArray(m.outputs) || m.outputs.length === 0) fail('outputs must be a non-empty list');
  const names = new Set<string>();
  m.outputs.forEach((o, i) => {
    const at = `outputs[${i}]`;
    if (typeof o !== 'object' || o === null) fail(`${at} must be an object, found ${JSON.stringify(o)}`);
    if (typeof o.name !== 'string' || o.name.length === 0 || o.name.length > 200) fail(`${at}.name must be a non-empty string`);
    if (names.has(o.name)) fail(`${at}.name ${JSON.stringify(o.name)} is listed twice`);
    names.add(o.name);
    if (o.phase !== 'image' && o.phase !== 'batch') fail(`${at}.phase must be "image" or "batch", found ${JSON.stringify(o.phase)}`);
    if (!Array.isArray(o.shape) || (o.shape.length !== 1 && o.shape.length !== 3)) fail(`${at}.shape must be [c, h, w] or [features]`);
    const shape = (o.shape as unknown[]).map((d, k) => int(d, `${at}.shape[${k}]`, 1));
    const t = o.tensor;
    if (typeof t !== 'object' || t === null) fail(`${at}.tensor must be an object`);
    const offset = aligned(t.offset, `${at}.tensor.offset`);
    if (shape.length === 1 || t.layout === 'vector') {
      // A vector, or a map the classifier reads flattened (avgpool): its floats in NCHW order.
      const size = shape.reduce((a, b) => a * b, 1);
      if (shape.length === 1 && o.layout !== 'features' && o.layout !== 'features-hwc') fail(`${at} is a vector: layout must be "features" or "features-hwc"`);
      if (o.flattened !== undefined) {
        const f = Array.isArray(o.flattened) && o.flattened.length === 3 ? (o.flattened as unknown[]).map((d, k) => int(d, `${at}.flattened[${k}]`, 1)) : fail(`${at}.flattened must be [c, h, w]`);
        if (f[0] * f[1] * f[2] !== size) fail(`${at}.flattened ${JSON.stringify(f)} does not hold its ${size} features`);
      } else if (o.layout === 'features-hwc') fail(`${at}: layout "features-hwc" needs flattened [c, h, w]`);
      if (shape.length === 3 && o.layout !== 'nchw' && o.layout !== 'nhwc') fail(`${at} is a map: layout must be "nchw" or "nhwc"`);
      if (t.layout !== 'vector') fail(`${at} is a vector: tensor.layout must be "vector"`);
      const stride = int(t.imageStride, `${at}.tensor.imageStride`, size);
      inside(offset, ((maxBatch - 1) * stride + size) * 4, `output ${JSON.stringify(o.name)}`);
    } else {
      if ((o.layout !== 'nchw' && o.layout !== 'nhwc') || t.layout !== 'nhwc-pad1') fail(`${at} is a map: layout must be "nchw" or "nhwc" and tensor.layout "nhwc-pad1"`);
      const [c, h, w] = shape;
      const channels = int(t.channelStride, `${at}.tensor.channelStride`, c);
      const rows = int(t.rows, `${at}.tensor.rows`, h + 2);
      const cols = int(t.cols, `${at}.tensor.cols`, w + 2);
      inside(offset, rows * cols * channels * 4, `output ${JSON.stringify(o.name)}`);
    }
  });
}
