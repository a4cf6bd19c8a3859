/**
 * vggc runtime for Cloudflare Workers (workerd) and other runtimes without files, fetch of the model
 * folder or run-time compilation: the model's files come as imported bytes and a compiled module.
 * `node tools/worker-bundle.mjs MODEL_DIR OUT_DIR` writes a folder a Worker imports (README, "Workers").
 *
 *   import { loadModelFromBytes } from 'vggc/workers';
 *   const model = await loadModelFromBytes({ manifest, wasm, weights });   // one thread
 */
export { loadModelFromBytes, type ModelBytes, type BytesLoadOptions } from './load/bytes.js';
export { topK, softmax, type Prediction } from './predict.js';
export type { VggcModel, BuildName } from './model.js';
export type { Manifest, ManifestStep, Preprocessing } from './format/manifest.js';
export { VggcError, isVggcError } from './format/errors.js';
