/**
 * vggc compiler API: the same functions the CLI calls.
 *
 *   import { compileModel } from 'vggc/compiler';
 *   await compileModel({ configPath: 'examples/vgg11.json', outDir: 'build/vgg11' });
 */
export { compileModel, planFromConfig, preprocessingFor, type CompileOptions, type CompileResult, type ProgressEvent } from './pipeline.js';
export { parseConfig, readConfigFile } from './frontend/config/parse.js';
export type { VggConfig, PreprocessingConfig } from './frontend/config/config.js';
export { renderSummary } from './summary/summary.js';
export type { KernelVariant, ConvAlgorithmChoice } from './schedule/schedule.js';
export { VggcError, isVggcError } from './errors.js';
