/**
 * The compiler, stage by stage. Each stage is a plain function from one typed value to the next:
 *
 *   config/parse → graph/build → fuse → schedule → plan (memory) → codegen → assemble (asc, binaryen)
 *   weights (safetensors | seeded random) → pack (kernel layout) → weights.bin
 *
 * and emit/ writes model.wasm, weights.bin, model.json and the generated model.ts atomically.
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readModelInput } from './onnx/index.js';
import type { VggConfig } from './config/config.js';
import { buildGraph, paramCount, type LayerGraph } from './graph/graph.js';
import { fuse } from './fuse/fuse.js';
import { MAX_BATCH, MAX_WORKERS, phaseOf, schedule, type ConvAlgorithmChoice, type KernelVariant, type ScheduleOptions } from './schedule/schedule.js';
import { planMemory, RUN_PARAMS, type ArenaTensor, type MemoryPlan } from './plan/plan.js';
import { emitModule } from './codegen/module.js';
import { compileAssemblyScript } from './assemble/asc.js';
import { finishModule } from './assemble/binaryen.js';
import { openSafetensors } from './weights/safetensors.js';
import { seededRandomWeights } from './weights/random.js';
import { packWeights } from './weights/pack.js';
import { foldBatchNorm } from './weights/fold-batchnorm.js';
import { WEIGHTS_HEADER_BYTES, type WeightsDtype } from './weights/layout.js';
import type { WeightSource } from './weights/source.js';
import { stageOutputDir } from './emit/output-dir.js';
import { isVggcError } from './errors.js';
import { defaultLabels, readLabelsFile } from './labels/labels.js';
import { packageVersion } from './paths.js';
import { layoutOf } from '../runtime/model.js';
import { MANIFEST_FORMAT, MANIFEST_VERSION, type Manifest, type Preprocessing, type StepTensor } from '../runtime/manifest.js';

export interface CompileOptions {
  /** Path of the config file, or of a .onnx model (config and weights from its graph). */
  readonly configPath: string;
  readonly outDir: string;
  /** safetensors file; without it, seeded random weights with torchvision's init scheme. */
  readonly weightsPath?: string;
  readonly seed?: number;
  readonly kernels?: KernelVariant;
  /** Convolution algorithm: per-layer choice by the scheduler (`auto`, default), or forced. */
  readonly conv?: ConvAlgorithmChoice;
  /** How weights are stored: f32 (default), f16 or int8 (weight-only, per-output-channel scales). */
  readonly weightsDtype?: WeightsDtype;
  readonly allowNonfinite?: boolean;
  /** Class names file (JSON list or one per line); overrides the config's `labels`. */
  readonly labelsPath?: string;
  readonly onProgress?: (event: ProgressEvent) => void;
}

export type ProgressEvent =
  | { readonly stage: 'codegen' | 'assemble' | 'write'; readonly message: string }
  | { readonly stage: 'weights'; readonly doneBytes: number; readonly totalBytes: number };

export interface CompileResult {
  readonly outDir: string;
  readonly manifest: Manifest;
  readonly plan: MemoryPlan;
}

/** Stages 1–5: config → memory plan, no I/O beyond reading the config. */
export function planFromConfig(config: VggConfig, label: string, opts: ScheduleOptions = {}): MemoryPlan {
  const fused = fuse(buildGraph(config));
  try {
    return planMemory(schedule(fused, opts), label);
  } catch (e) {
    // Winograd stores 36 instead of 9 values per filter; when that is what overflows wasm memory, the
    // scheduler falls back to direct convolution rather than refusing the model.
    if (!isVggcError(e) || opts.conv === 'direct' || opts.conv === 'winograd') throw e;
    return planMemory(schedule(fused, { ...opts, conv: 'direct' }), label);
  }
}

export async function compileModel(opts: CompileOptions): Promise<CompileResult> {
  const progress = opts.onProgress ?? (() => {});
  const input = readModelInput(opts.configPath, opts.weightsPath);
  const config = input.config;
  const kernels = opts.kernels ?? 'wasmsimd';
  const plan = planFromConfig(config, opts.configPath, { variant: kernels, conv: opts.conv, weights: opts.weightsDtype });
  const graph = plan.schedule.fused.graph;
  const labels = opts.labelsPath ? readLabelsFile(opts.labelsPath, config.numClasses) : (config.labels ?? defaultLabels(config.numClasses));
  const seed = opts.seed ?? 0;
  const raw: WeightSource = input.openWeights
    ? input.openWeights(graph.params, { allowNonfinite: opts.allowNonfinite })
    : opts.weightsPath
    ? openSafetensors(opts.weightsPath, graph.params, { allowNonfinite: opts.allowNonfinite, ignoredKeys: graph.ignoredKeys })
    : seededRandomWeights(graph.params, seed);
  const source = foldBatchNorm(raw, plan.schedule.fused);
  const staging = stageOutputDir(opts.outDir);
  try {
    progress({ stage: 'codegen', message: `generating ${plan.steps.length} kernels` });
    const asSource = emitModule(plan);
    progress({ stage: 'assemble', message: 'compiling AssemblyScript to wasm' });
    const { wasm: rawWasm } = await compileAssemblyScript(asSource, { memoryPages: plan.memoryPages });
    // The relaxed-SIMD twin (f32x4.relaxed_madd) exists only for the SIMD kernels.
    const rawRelaxed = kernels === 'wasmsimd' ? (await compileAssemblyScript(asSource, { memoryPages: plan.memoryPages, relaxed: true })).wasm : null;
    const packed = await packWeights(source, plan.packed, plan.weightsPayloadBytes, join(staging.path, 'weights.bin'), (doneBytes, totalBytes) =>
      progress({ stage: 'weights', doneBytes, totalBytes }),
    );
    // The manifest's layout goes into the wasm's tag, so the manifest is drafted first and gets the
    // wasm's own facts (size, hash) once the module is final.
    const draft = buildManifest(graph, plan, packed.sha256, source.description, labels);
    const layout = layoutOf(draft);
    const wasm = finishModule(rawWasm, { format: 'vggc-wasm', weightsSha256: packed.sha256, kernels, layout });
    const relaxed = rawRelaxed ? finishModule(rawRelaxed, { format: 'vggc-wasm', weightsSha256: packed.sha256, kernels: `${kernels}-relaxed`, layout }) : null;
    progress({ stage: 'write', message: 'writing model.wasm and model.json' });
    const manifest: Manifest = {
      ...draft,
      wasm: {
        file: 'model.wasm',
        bytes: wasm.length,
        sha256: sha256(wasm),
        relaxed: relaxed ? { file: RELAXED_WASM_FILE, bytes: relaxed.length, sha256: sha256(relaxed) } : null,
      },
    };
    writeFileSync(join(staging.path, 'model.wasm'), wasm);
    if (relaxed) writeFileSync(join(staging.path, RELAXED_WASM_FILE), relaxed);
    writeFileSync(join(staging.path, 'model.ts'), asSource);
    writeFileSync(join(staging.path, 'model.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    staging.commit();
    return { outDir: opts.outDir, manifest, plan };
  } catch (e) {
    staging.abandon();
    throw e;
  } finally {
    source.close();
  }
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];
/** torchvision's ImageNet evaluation transform: resize to 256, centre crop 224. */
const RESIZE_RATIO = 256 / 224;

/** The config's preprocessing, or torchvision's ImageNet evaluation transform scaled to the input size. */
export function preprocessingFor(config: VggConfig): Preprocessing {
  const channels = config.blocks[0][0];
  if (config.preprocessing) return { channels, ...config.preprocessing };
  const imagenet = channels === 3;
  return {
    channels,
    resize: { shorterSide: Math.round(Math.min(...config.inputSize) * RESIZE_RATIO) },
    mean: imagenet ? IMAGENET_MEAN : new Array(channels).fill(0.5),
    std: imagenet ? IMAGENET_STD : new Array(channels).fill(0.5),
  };
}

const RELAXED_WASM_FILE = 'model-relaxed.wasm';
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function buildManifest(graph: LayerGraph, plan: MemoryPlan, weightsSha256: string, weightsSource: string, labels: readonly string[] | null): Manifest {
  const config = graph.config;
  const macs = plan.steps.reduce((n, s) => n + ('macs' in s.schedule ? s.schedule.macs : 0), 0);
  return {
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_VERSION,
    vggcVersion: packageVersion(),
    name: config.name,
    config: { ...config, blocks: config.blocks.map((b) => [...b]), inputSize: [...config.inputSize], avgPool: config.avgPool ? [...config.avgPool] : null, classifier: [...config.classifier] },
    kernels: plan.schedule.variant,
    wasm: { file: 'model.wasm', bytes: 0, sha256: '', relaxed: null }, // filled in once the modules are final
    weights: {
      file: 'weights.bin',
      headerBytes: WEIGHTS_HEADER_BYTES,
      payloadBytes: plan.weightsPayloadBytes,
      sha256: weightsSha256,
      source: weightsSource,
      dtype: plan.schedule.weightsDtype,
      tensors: plan.packed.map((t) => ({ key: t.param.key, shape: [...t.param.shape], layout: t.layout, offset: t.offset, byteLength: t.byteLength })),
    },
    memory: { pages: plan.memoryPages, arenaBase: plan.arenaBase, arenaBytes: plan.arenaBytes, peakLiveBytes: plan.peakLiveBytes, weightsBase: plan.weightsBase, shared: true, maxWorkers: MAX_WORKERS, params: RUN_PARAMS },
    input: { offset: plan.input.offset, shape: [graph.input.c, graph.input.h, graph.input.w] },
    output: { offset: plan.output.offset, numClasses: graph.numClasses, imageStride: (plan.output.layout as { stored: number }).stored },
    maxBatch: MAX_BATCH,
    steps: plan.steps.map((s) => ({
      function: s.exportName,
      kind: s.schedule.kind,
      phase: phaseOf(s.schedule),
      kernel: s.schedule.kernel,
      workItems: s.schedule.workItems,
      macs: 'macs' in s.schedule ? s.schedule.macs : 0,
      description: describeStep(s.schedule),
      output: stepTensor(s.output),
    })),
    prepare: plan.steps.flatMap((s) => (s.prepared ? [{ function: s.prepared.exportName, workItems: s.prepared.workItems, kernel: s.prepared.kernel, bytes: s.prepared.bytes }] : [])),
    preprocessing: preprocessingFor(config),
    labels,
    totals: { params: paramCount(graph), macs },
  };
}

function stepTensor(t: ArenaTensor): StepTensor {
  const l = t.layout;
  if (l.kind === 'vector') return { offset: t.offset, bytes: t.bytes, layout: 'vector', shape: [l.length], imageStride: l.stored };
  const shape = [l.shape.c, l.shape.h, l.shape.w];
  return l.kind === 'nchw'
    ? { offset: t.offset, bytes: t.bytes, layout: 'nchw', shape }
    : { offset: t.offset, bytes: t.bytes, layout: 'nhwc-pad1', shape, channelStride: l.channelStride, rows: l.rows, cols: l.cols };
}

function describeStep(s: MemoryPlan['steps'][number]['schedule']): string {
  switch (s.kind) {
    case 'pack-input':
      return `input ${s.input.c}×${s.input.h}×${s.input.w} → padded NHWC`;
    case 'conv':
      return `${s.step.conv.id} ${s.step.conv.input.c}→${s.step.conv.output.c} ${s.step.conv.input.h}×${s.step.conv.input.w} + ReLU${s.step.pool ? ' + max-pool 2×2' : ''}`;
    case 'pool-flatten':
      return s.step.avgPool ? `adaptive avg-pool → ${s.step.flattened.h}×${s.step.flattened.w}, flatten ${s.step.features}` : `flatten ${s.step.features}`;
    case 'linear':
      return `${s.step.linear.id} ${s.step.linear.inFeatures}→${s.step.linear.outFeatures}${s.step.relu ? ' + ReLU' : ''}`;
  }
}
