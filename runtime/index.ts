/**
 * vggc runtime: load a compiled model folder and run it.
 *
 *   import { loadModel } from 'vggc';
 *   const model = await loadModel('build/vgg11');
 *   const logits = await model.infer(input);   // Float32Array, N×C×H×W → N×numClasses
 *   const all = await model.inferAll(input);   // { [output name]: { data, shape } } for every output
 *   model.dispose();
 */
export { loadModel, type LoadOptions } from './load/node.js';
export type { LoadProgress } from './format/progress.js';
export type { VerifyOption } from './format/shards.js';
export type { VggcModel, BuildName, ModelOutput, OutputTensor } from './model.js';
export { perceptualDistance, perceptualDistances, cosineSimilarity, LPIPS_VGG16_TAPS } from './distance.js';
export type { Manifest, ManifestStep, ManifestOutput, Preprocessing } from './format/manifest.js';
export { VggcError, isVggcError } from './format/errors.js';
export { supportsRelaxedSimd, BUILD_CHOICES, type BuildChoice } from './load/build.js';
export { readNpy, writeNpy, type NpyArray } from './npy.js';
