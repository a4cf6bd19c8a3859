/**
 * Checks a parsed model.json before anything is allocated: a manifest that was edited by hand or
 * belongs to another version must give a clear error, never an out-of-bounds write in wasm memory.
 */
import { VggcError } from './errors.js';
import { MANIFEST_FORMAT, MANIFEST_VERSION, type Manifest } from './manifest.js';
import { RUN_PARAMS_BYTES } from './run-params.js';

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
  const stride = int(m.output?.imageStride, 'output.imageStride', 1);
  inside(aligned(m.output.offset, 'output.offset'), ((maxBatch - 1) * stride + int(m.output.numClasses, 'output.numClasses', 1)) * 4, 'the output');
  inside(aligned(m.memory.params, 'memory.params'), RUN_PARAMS_BYTES, 'the run parameters');
  inside(aligned(m.memory.weightsBase, 'memory.weightsBase'), int(m.weights?.payloadBytes, 'weights.payloadBytes'), 'the weights');
  int(m.weights.headerBytes, 'weights.headerBytes');
  if (typeof m.weights.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(m.weights.sha256)) fail('weights.sha256 must be 64 hex digits');
  if (!Array.isArray(m.steps) || m.steps.length === 0) fail('steps must be a non-empty list');
  m.steps.forEach((s, i) => {
    if (typeof s !== 'object' || s === null) fail(`steps[${i}] must be an object, found ${JSON.stringify(s)}`);
    if (typeof s.function !== 'string') fail(`steps[${i}].function must be a string`);
    int(s.workItems, `steps[${i}].workItems`, 1);
    if (s.phase !== 'image' && s.phase !== 'batch') fail(`steps[${i}].phase must be "image" or "batch", found ${JSON.stringify(s.phase)}`);
  });
  if (m.prepare !== undefined && !Array.isArray(m.prepare)) fail('prepare must be a list');
  (m.prepare ?? []).forEach((p, i) => {
    if (typeof p !== 'object' || p === null || typeof p.function !== 'string') fail(`prepare[${i}].function must be a string`);
    int(p.workItems, `prepare[${i}].workItems`, 1);
  });
  if (m.wasm?.relaxed !== null && typeof m.wasm?.relaxed !== 'object') fail('wasm.relaxed must be an object or null');
  for (const f of [m.wasm?.file, m.weights.file, ...(m.wasm.relaxed ? [m.wasm.relaxed.file] : [])]) {
    if (typeof f !== 'string' || !/^[\w.-]+$/.test(f) || f.startsWith('.')) fail(`file name ${JSON.stringify(f)} must be a plain name inside the model folder`);
  }
  return m;
}
