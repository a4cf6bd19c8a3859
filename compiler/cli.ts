#!/usr/bin/env node
/**
 * vggc command line: compile, run, summary. User errors print one line and exit 1; usage errors exit 2.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { isVggcError, VggcError } from './errors.js';
import { compileModel, planFromConfig, type ProgressEvent } from './pipeline.js';
import { readModelInput } from './frontend/index.js';
import { renderSummary } from './summary/summary.js';
import { configJson } from './emit/manifest.js';
import { PREPROCESSING_PRESETS, type PreprocessingPreset } from './frontend/config/preprocessing.js';
import type { ConvAlgorithmChoice } from './schedule/schedule.js';
import { WEIGHTS_DTYPES, WEIGHTS_HEADER_BYTES, type WeightsDtype } from './weights/layout.js';
import { packageVersion } from './paths.js';
import { loadModel } from '../runtime/load/node.js';
import { formatProfile, median, profileLayers } from '../runtime/profile-node.js';
import type { BuildChoice } from '../runtime/load/build.js';
import { readNpy, writeNpy } from '../runtime/npy.js';
import { imageToTensor } from '../runtime/images/node.js';
import { outputKind, topK, type Prediction } from '../runtime/predict.js';
import { registerServe } from './cli-serve.js';

const program = new Command();
let verbose = false;

program
  .name('vggc')
  .description('Compile VGG networks into standalone WebAssembly with SIMD kernels specialised for exactly that network.')
  .version(packageVersion())
  .option('--verbose', 'show stack traces and extra detail')
  .hook('preAction', (cmd) => {
    verbose = Boolean(cmd.opts().verbose);
  })
  .showHelpAfterError('(run vggc --help for usage)')
  .exitOverride();

program
  .command('compile')
  .description('compile a model into DIR: model.wasm, weights.bin, model.json, model.ts')
  .argument('<model>', 'a config JSON (see README: "Config format"), or a model file whose network vggc derives: a PyTorch checkpoint (.pth/.pt/.bin), a TensorFlow.js model.json, a .onnx or a .safetensors (README: "Bring your model")')
  .requiredOption('-o, --out <dir>', 'output folder (replaced atomically when the compile succeeds)')
  .option('-w, --weights <file>', 'with a config: weights as .safetensors or a PyTorch checkpoint (torchvision or seed-notebook key names); default: seeded random weights')
  .option('--input-size <HxW>', 'input size to compile for, e.g. 64x64 (default: the model\'s own, else 224x224)', parseInputSize)
  .addOption(new Option('--preprocessing <convention>', 'how images are prepared: torch (RGB, /255, ImageNet mean/std), caffe (BGR, 0-255, ImageNet means; Keras VGG) or tf (RGB, [-1, 1]); default: what the model implies').choices(PREPROCESSING_PRESETS))
  .option('--seed <n>', 'seed for random weights when --weights is not given', parseNonNegativeInt, 0)
  .addOption(new Option('--kernels <variant>', 'kernel variant: wasmsimd (fast) or scalar-ref (plain reference loops)').choices(['wasmsimd', 'scalar-ref']).default('wasmsimd'))
  .addOption(new Option('--conv <algorithm>', '3×3 convolution algorithm: auto (the scheduler decides per layer), direct, or winograd (F(4×4,3×3))').choices(['auto', 'direct', 'winograd']).default('auto'))
  .addOption(new Option('--weights-dtype <dtype>', 'how weights are stored: f32, f16, or int8 (weight-only, symmetric, one scale per output channel); fully-connected layers dequantise in the kernels').choices(WEIGHTS_DTYPES).default('f32'))
  .option('--allow-nonfinite', 'accept NaN/Inf weight values instead of refusing them')
  .option('--labels <file>', 'class names (JSON list or one per line), overriding the config; 1000-class models get the ImageNet names by default')
  .option('-q, --quiet', 'no progress output')
  .action(async (config: string, o: { out: string; weights?: string; seed: number; kernels: 'wasmsimd' | 'scalar-ref'; conv: ConvAlgorithmChoice; weightsDtype: WeightsDtype; allowNonfinite?: boolean; labels?: string; quiet?: boolean; inputSize?: [number, number]; preprocessing?: PreprocessingPreset }) => {
    const started = Date.now();
    const progress = o.quiet ? undefined : progressPrinter();
    const result = await compileModel({ configPath: config, outDir: o.out, weightsPath: o.weights, seed: o.seed, kernels: o.kernels, conv: o.conv, weightsDtype: o.weightsDtype, allowNonfinite: o.allowNonfinite, labelsPath: o.labels, inputSize: o.inputSize, preprocessing: o.preprocessing, onProgress: progress });
    const m = result.manifest;
    if (!o.quiet) {
      process.stderr.write('\n');
      console.log(`compiled ${m.name} → ${o.out} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      console.log(`  model.wasm          ${(m.wasm.bytes / 1024).toFixed(1)} KB  (${m.steps.length} specialised ${m.kernels} layer functions)`);
      if (m.wasm.relaxed) console.log(`  model-relaxed.wasm  ${(m.wasm.relaxed.bytes / 1024).toFixed(1)} KB  (relaxed-SIMD twin)`);
      console.log(`  weights.bin         ${((m.weights.headerBytes + m.weights.payloadBytes) / 1e6).toFixed(1)} MB  (${m.weights.dtype ?? 'f32'}; ${m.weights.source})`);
      console.log(`  arena ${(m.memory.arenaBytes / 1e6).toFixed(2)} MB, ${m.totals.params.toLocaleString('en-US')} parameters, ${(m.totals.macs / 1e9).toFixed(2)} G multiply-adds per image`);
    }
  });

program
  .command('run')
  .description('run a compiled model on a float32 .npy batch (N×C×H×W) and write the logits (N×classes) as .npy')
  .argument('<dir>', 'folder written by vggc compile')
  .requiredOption('-i, --input <file>', 'input .npy, float32, shape N×C×H×W (or C×H×W for one image)')
  .requiredOption('-o, --output <file>', 'output .npy for the logits')
  .action(async (dir: string, o: { input: string; output: string }) => {
    const x = readNpy(o.input);
    const model = await loadModel(dir);
    try {
      const [c, h, w] = model.inputShape;
      const shape = x.shape.length === 3 ? [1, ...x.shape] : x.shape;
      if (shape.length !== 4 || shape[1] !== c || shape[2] !== h || shape[3] !== w) {
        throw new VggcError(`${o.input}: shape [${x.shape.join(', ')}] does not match the model's input N×${c}×${h}×${w}`);
      }
      const started = performance.now();
      const logits = await model.infer(x.data, shape[0]);
      const ms = performance.now() - started;
      writeNpy(o.output, [shape[0], model.numClasses], logits);
      console.log(`${shape[0]} image(s) → ${o.output} [${shape[0]}, ${model.numClasses}] in ${ms.toFixed(1)} ms (${model.threads} thread${model.threads > 1 ? 's' : ''})`);
    } finally {
      model.dispose();
    }
  });

program
  .command('predict')
  .description('classify image files (PNG, JPEG, WebP) with a compiled model: top-K classes with probabilities')
  .argument('<dir>', 'folder written by vggc compile')
  .argument('<images...>', 'image files')
  .option('-k, --top <k>', 'how many classes to show per image', parsePositiveInt, 5)
  .option('--json', 'print a JSON array: [{ file, predictions: [{ label, index, probability }] }]')
  .action(async (dir: string, images: string[], o: { top: number; json?: boolean }) => {
    const model = await loadModel(dir, { threads: 1 }); // small inputs one at a time: no pool needed
    const { preprocessing, labels, config } = model.manifest;
    const results: Array<{ file: string; predictions?: Prediction[]; error?: string }> = [];
    for (const file of images) {
      try {
        const x = await imageToTensor(file, preprocessing, [config.inputSize[0], config.inputSize[1]]);
        const predictions = topK(await model.infer(x), o.top, labels, outputKind(model.manifest));
        results.push({ file, predictions });
        if (!o.json) {
          console.log(file);
          for (const [i, p] of predictions.entries()) console.log(`  ${i + 1}. ${p.label.padEnd(24)} ${(100 * p.probability).toFixed(2).padStart(6)}%`);
        }
      } catch (e) {
        if (!isVggcError(e)) throw e;
        results.push({ file, error: e.message });
        process.stderr.write(`error: ${e.message}\n`);
      }
    }
    if (o.json) console.log(JSON.stringify(results, null, 2));
    const failed = results.filter((r) => r.error).length;
    if (failed) {
      process.stderr.write(`${failed} of ${images.length} image(s) failed: ${results.filter((r) => r.error).map((r) => r.file).join(', ')}\n`);
      process.exitCode = 1;
    }
    model.dispose();
  });

program
  .command('bench')
  .description('time a compiled model: whole-network median and a per-layer breakdown (ms, GFLOP/s, share of the micro-kernel ceiling)')
  .argument('<dir>', 'folder written by vggc compile')
  .option('--runs <n>', 'timed runs (medians are reported)', parsePositiveInt, 7)
  .option('--threads <n>', 'threads (default: available cores, at most the model\'s maximum)', parsePositiveInt)
  .addOption(new Option('--build <build>', 'wasm build to time').choices(['auto', 'deterministic', 'relaxed']).default('auto'))
  .action(async (dir: string, o: { runs: number; threads?: number; build: BuildChoice }) => {
    const model = await loadModel(dir, { threads: o.threads, build: o.build });
    const [c, h, w] = model.inputShape;
    const x = new Float32Array(c * h * w).map((_, i) => Math.sin(i * 0.01));
    const times: number[] = [];
    let first = 0;
    try {
      for (let r = 0; r < o.runs + 1; r++) {
        const t0 = performance.now();
        await model.infer(x);
        if (r === 0) first = performance.now() - t0;
        else times.push(performance.now() - t0);
      }
    } finally {
      model.dispose();
    }
    console.log(`${model.manifest.name}: median ${median(times).toFixed(1)} ms per image over ${o.runs} runs (first inference ${first.toFixed(1)} ms), ${model.threads} thread(s), ${model.build} build`);
    const profile = await profileLayers(dir, { runs: o.runs, threads: model.threads, build: o.build });
    for (const line of formatProfile(profile)) console.log(line);
  });

program
  .command('summary')
  .description("print the layer table (output shapes, parameters, multiply-adds), the fused kernels and the memory plan")
  .argument('<model>', 'a config JSON or a model file (.pth/.pt/.bin, TF.js model.json, .onnx, .safetensors)')
  .addOption(new Option('--kernels <variant>', 'kernel variant to plan for').choices(['wasmsimd', 'scalar-ref']).default('wasmsimd'))
  .addOption(new Option('--weights-dtype <dtype>', 'weight storage to plan for').choices(WEIGHTS_DTYPES).default('f32'))
  .option('--input-size <HxW>', 'input size to plan for (as vggc compile)', parseInputSize)
  .addOption(new Option('--preprocessing <convention>', 'preprocessing convention (as vggc compile)').choices(PREPROCESSING_PRESETS))
  .action((config: string, o: { kernels: 'wasmsimd' | 'scalar-ref'; weightsDtype: WeightsDtype; inputSize?: [number, number]; preprocessing?: PreprocessingPreset }) => {
    const input = readModelInput(config, { inputSize: o.inputSize, preprocessing: o.preprocessing });
    const parsed = input.config;
    if (input.format !== 'config') console.log(`${config}: ${FORMAT_LABELS[input.format]}; derived config:\n  ${JSON.stringify(configJson(parsed))}\n`);
    const plans = new Map(WEIGHTS_DTYPES.map((d) => [d, planFromConfig(parsed, config, { variant: o.kernels, weights: d })]));
    const sizes = Object.fromEntries([...plans].map(([d, plan]) => [d, WEIGHTS_HEADER_BYTES + plan.weights.payloadBytes]));
    console.log(renderSummary(plans.get(o.weightsDtype)!, sizes));
  });

registerServe(program);

const FORMAT_LABELS = { config: 'config', onnx: 'ONNX model', pytorch: 'PyTorch checkpoint', tfjs: 'TensorFlow.js LayersModel', safetensors: 'safetensors checkpoint' } as const;

/** `64x64` → [64, 64] (height × width). */
function parseInputSize(v: string): [number, number] {
  const m = /^(\d+)[x×](\d+)$/i.exec(v.trim());
  const size = m ? [Number(m[1]), Number(m[2])] : [];
  if (!m || !size.every((n) => Number.isSafeInteger(n) && n >= 1)) throw new InvalidArgumentError('expected HEIGHTxWIDTH, e.g. 224x224');
  return [size[0], size[1]];
}

function parsePositiveInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function parseNonNegativeInt(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a non-negative integer');
  return n;
}

function progressPrinter(): (e: ProgressEvent) => void {
  const tty = process.stderr.isTTY;
  let lastPercent = -1;
  return (e) => {
    if (e.stage !== 'weights') {
      process.stderr.write(`${tty ? '\r\x1b[K' : ''}${e.message}…${tty ? '' : '\n'}`);
      return;
    }
    const percent = e.totalBytes ? Math.floor((100 * e.doneBytes) / e.totalBytes) : 100;
    if (percent === lastPercent || (!tty && percent % 25 !== 0)) return;
    lastPercent = percent;
    const text = `packing weights ${String(percent).padStart(3)}% (${(e.doneBytes / 1e6).toFixed(0)} / ${(e.totalBytes / 1e6).toFixed(0)} MB)`;
    process.stderr.write(tty ? `\r\x1b[K${text}` : `${text}\n`);
  };
}

async function main(): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    if (isVggcError(e)) {
      process.stderr.write(`${process.stderr.isTTY ? '\r\x1b[K' : ''}error: ${e.message}\n`);
      if (verbose) process.stderr.write(`${e.stack}\n`);
      process.exitCode = 1;
      return;
    }
    process.stderr.write(`internal error in vggc (please report it): ${(e as Error)?.stack ?? String(e)}\n`);
    process.exitCode = 70;
  }
}

await main();
