/**
 * The compiler, stage by stage. Each stage is a plain function from one typed value to the next:
 *
 *   frontend (config JSON | ONNX) → graph → fuse → schedule → plan → Program (program.ts)
 *   Program → codegen → assemble (asc, binaryen) → model.wasm, model-relaxed.wasm
 *   Program + weights (safetensors | ONNX | seeded random) → fold BatchNorm → pack → weight shards
 *   Program → emit/manifest → model.json
 *
 * emit/output-dir.ts writes the four files (and the generated model.ts) atomically.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openConfigWeights, readModelInput } from './frontend/index.js';
import type { PreprocessingPreset } from './frontend/config/preprocessing.js';
import type { VggConfig } from './frontend/config/config.js';
import { buildGraph } from './graph/graph.js';
import { fuse } from './fuse/fuse.js';
import { selectOutputs } from './outputs/select.js';
import { schedule, type ConvAlgorithmChoice, type KernelVariant, type ScheduleOptions } from './schedule/schedule.js';
import type { WinogradStreamChoice, WinogradTileChoice } from './schedule/winograd-plan.js';
import { planProgram } from './plan/plan.js';
import type { Program } from './program.js';
import { emitModule } from './codegen/module.js';
import { compileAssemblyScript } from './assemble/asc.js';
import { finishModule } from './assemble/binaryen.js';
import { seededRandomWeights } from './weights/random.js';
import { checkShardBytes, packWeights } from './weights/pack.js';
import { DEFAULT_SHARD_BYTES } from './weights/shards.js';
import { foldBatchNorm } from './weights/fold-batchnorm.js';
import type { WeightsDtype } from './weights/layout.js';
import type { WeightSource } from './weights/source.js';
import { manifestBody } from './emit/manifest.js';
import { stageOutputDir } from './emit/output-dir.js';
import { checkCompileOptions } from './compile-options.js';
import { defaultLabels, readLabelsFile } from './labels/labels.js';
import { layoutOf, relaxedTwinTag, type WasmTag } from '../runtime/format/wasm-tag.js';
import type { Manifest } from '../runtime/format/manifest.js';

export { preprocessingFor } from './emit/manifest.js';

export interface CompileOptions {
  /**
   * The model: a config JSON, or a model file whose config is derived from it — .onnx, a PyTorch
   * checkpoint (.pth/.pt/.bin), a TensorFlow.js model.json, a .safetensors (frontend/index.ts).
   */
  readonly configPath: string;
  readonly outDir: string;
  /** With a config JSON: .safetensors or PyTorch checkpoint; without it, seeded random weights with torchvision's init scheme. */
  readonly weightsPath?: string;
  /** Overrides the input size a model file implies (default: its own, else 224×224). */
  readonly inputSize?: readonly [number, number];
  /** Overrides the preprocessing convention: torch, caffe (Keras's VGG default) or tf. */
  readonly preprocessing?: PreprocessingPreset;
  /** Named outputs (overriding the config's): layers after the last are not compiled. */
  readonly outputs?: readonly string[];
  /** Maps returned as NCHW (default) or NHWC. */
  readonly outputLayout?: 'nchw' | 'nhwc';
  readonly seed?: number;
  readonly kernels?: KernelVariant;
  /** Convolution algorithm: per-layer choice by the scheduler (`auto`, default), or forced. */
  readonly conv?: ConvAlgorithmChoice;
  /** Winograd tile size: chosen per layer by the scheduler's cost model (`auto`, default), or forced. */
  readonly winogradTile?: WinogradTileChoice;
  /** How Winograd GEMMs stream their transformed filters: chosen per layer (`auto`, default), or forced (same results either way). */
  readonly winogradStream?: WinogradStreamChoice;
  /** How weights are stored: f32 (default), f16 or int8 (weight-only, per-output-channel scales). */
  readonly weightsDtype?: WeightsDtype;
  readonly allowNonfinite?: boolean;
  /** Class names file (JSON list or one per line); overrides the config's `labels`. */
  readonly labelsPath?: string;
  /**
   * Bytes per weights shard (`--shard-size`): the payload is written as weights-000.bin, … of this
   * size (the last one shorter); 0 writes one weights.bin. Default 16 MiB.
   */
  readonly shardBytes?: number;
  readonly onProgress?: (event: ProgressEvent) => void;
}

export type ProgressEvent =
  | { readonly stage: 'codegen' | 'assemble' | 'write'; readonly message: string }
  | { readonly stage: 'weights'; readonly doneBytes: number; readonly totalBytes: number };

export interface CompileResult {
  readonly outDir: string;
  readonly manifest: Manifest;
  readonly program: Program;
}

/**
 * Stages 2–5: config → Program (graph, named outputs, fusion, schedule, plan), no I/O. `layerNames`:
 * the source model's own layer names, accepted as output names (Keras/TF.js models).
 */
export function planFromConfig(config: VggConfig, label: string, opts: ScheduleOptions = {}, layerNames: ReadonlyMap<string, string> = new Map()): Program {
  const selection = selectOutputs(buildGraph(config), config.outputs, layerNames, label);
  return planProgram(schedule(fuse(selection.graph, selection.outputs), opts), label);
}

export async function compileModel(opts: CompileOptions): Promise<CompileResult> {
  checkCompileOptions(opts);
  const progress = opts.onProgress ?? (() => {});
  const input = readModelInput(opts.configPath, { weightsPath: opts.weightsPath, inputSize: opts.inputSize, preprocessing: opts.preprocessing, outputs: opts.outputs, outputLayout: opts.outputLayout });
  const config = input.config;
  if (opts.shardBytes !== undefined) checkShardBytes(opts.shardBytes);
  const kernels = opts.kernels ?? 'wasmsimd';
  const program = planFromConfig(config, opts.configPath, { variant: kernels, conv: opts.conv, winogradTile: opts.winogradTile, winogradStream: opts.winogradStream, weights: opts.weightsDtype }, input.layerNames);
  const graph = program.graph;
  const labels = opts.labelsPath ? readLabelsFile(opts.labelsPath, config.numClasses) : (config.labels ?? defaultLabels(config.numClasses));
  const raw: WeightSource = input.openWeights
    ? input.openWeights(graph.params, { allowNonfinite: opts.allowNonfinite })
    : opts.weightsPath
    ? openConfigWeights(opts.weightsPath, graph.params, { allowNonfinite: opts.allowNonfinite, ignoredKeys: graph.ignoredKeys })
    : seededRandomWeights(graph.params, opts.seed ?? 0);
  const source = foldBatchNorm(raw, program);
  const staging = stageOutputDir(opts.outDir, [opts.configPath, opts.weightsPath, opts.labelsPath].filter((f): f is string => f !== undefined));
  try {
    progress({ stage: 'codegen', message: `generating ${program.steps.length} kernels` });
    const asSource = emitModule(program);
    progress({ stage: 'assemble', message: 'compiling AssemblyScript to wasm' });
    const pages = program.memory.pages;
    const rawWasm = (await compileAssemblyScript(asSource, { memoryPages: pages })).wasm;
    // The relaxed-SIMD twin (f32x4.relaxed_madd) exists only for the SIMD kernels.
    const rawRelaxed = kernels === 'wasmsimd' ? (await compileAssemblyScript(asSource, { memoryPages: pages, relaxed: true })).wasm : null;
    const packed = await packWeights(source, program.weights.tensors, program.weights.payloadBytes, staging.path, opts.shardBytes ?? DEFAULT_SHARD_BYTES, (doneBytes, totalBytes) =>
      progress({ stage: 'weights', doneBytes, totalBytes }),
    );
    // The wasm tag carries the manifest's layout, so the modules are finished from the manifest's body.
    const body = manifestBody(program, { sha256: packed.sha256, source: source.description, shards: packed.shards }, labels);
    const layout = layoutOf(body);
    const tag: WasmTag = { format: 'vggc-wasm', weightsSha256: packed.sha256, kernels, layout };
    const wasm = finishModule(rawWasm, tag);
    const relaxed = rawRelaxed ? finishModule(rawRelaxed, relaxedTwinTag(tag)) : null;
    progress({ stage: 'write', message: 'writing model.wasm and model.json' });
    const manifest: Manifest = {
      ...body,
      wasm: {
        file: WASM_FILE,
        bytes: wasm.length,
        sha256: sha256(wasm),
        relaxed: relaxed ? { file: RELAXED_WASM_FILE, bytes: relaxed.length, sha256: sha256(relaxed) } : null,
      },
    };
    writeFileSync(join(staging.path, WASM_FILE), wasm);
    if (relaxed) writeFileSync(join(staging.path, RELAXED_WASM_FILE), relaxed);
    writeFileSync(join(staging.path, 'model.ts'), asSource);
    writeFileSync(join(staging.path, 'model.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    staging.commit();
    return { outDir: opts.outDir, manifest, program };
  } catch (e) {
    staging.abandon();
    throw e;
  } finally {
    source.close();
  }
}

const WASM_FILE = 'model.wasm';
const RELAXED_WASM_FILE = 'model-relaxed.wasm';
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
