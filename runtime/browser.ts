/**
 * vggc runtime for browsers (ES module, no bundler needed: import dist/runtime/browser.js).
 *
 *   import { loadModel, imageToTensor, topK } from './dist/runtime/browser.js';
 *   const model = await loadModel('build/fashion-mnist/', { onProgress: ({ loadedBytes, totalBytes }) => … });
 *   const x = await imageToTensor(file, model.manifest.preprocessing, model.manifest.config.inputSize);
 *   const top = topK(await model.infer(x), 5, model.manifest.labels);
 *
 * Threads need a cross-origin isolated page (COOP: same-origin, COEP: require-corp); elsewhere the
 * model runs on one thread and says why on the console. Nothing here imports Node built-ins.
 */
export { loadModel, loadInstance, clearCache, threadsUnavailableReason, type BrowserLoadOptions } from './load/browser.js';
export type { LoadProgress } from './format/progress.js';
export type { VerifyOption } from './format/shards.js';
export { imageToTensor, pixelsToTensor, grayscale, type ImageInput } from './images/browser.js';
export { topK, softmax, outputKind, type Prediction, type OutputKind } from './predict.js';
export type { VggcModel, BuildName, ModelOutput, OutputTensor } from './model.js';
export { perceptualDistance, perceptualDistances, cosineSimilarity, LPIPS_VGG16_TAPS } from './distance.js';
export type { ModelInstance } from './instance.js';
export type { Manifest, ManifestStep, ManifestOutput, Preprocessing } from './format/manifest.js';
export { VggcError, isVggcError } from './format/errors.js';
export { supportsRelaxedSimd, BUILD_CHOICES, type BuildChoice } from './load/build.js';
