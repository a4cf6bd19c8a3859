/** `vggc compile MODEL -o DIR`. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { compileModel, type ProgressEvent } from '../pipeline.js';
import type { ConvAlgorithmChoice } from '../schedule/schedule.js';
import { WINOGRAD_STREAMS, type WinogradStreamChoice, type WinogradTileChoice } from '../schedule/winograd-plan.js';
import { WINOGRAD_TRANSFORMS } from '../winograd/winograd.js';
import { WEIGHTS_DTYPES, type WeightsDtype } from '../weights/layout.js';
import { modelOptions, parseByteSize, parseNonNegativeInt, type ModelOptionValues } from './options.js';
import { DEFAULT_SHARD_BYTES, MIN_SHARD_BYTES } from '../weights/shards.js';

interface CompileFlags extends ModelOptionValues {
  out: string;
  weights?: string;
  seed: number;
  kernels: 'wasmsimd' | 'scalar-ref';
  conv: ConvAlgorithmChoice;
  winogradTile: WinogradTileChoice;
  winogradStream: WinogradStreamChoice;
  weightsDtype: WeightsDtype;
  allowNonfinite?: boolean;
  labels?: string;
  shardSize: number;
  quiet?: boolean;
}

export function registerCompile(program: Command): void {
  const cmd = program
    .command('compile')
    .description('compile a model into DIR: model.wasm, the weight shards (weights-000.bin, …), model.json, model.ts')
    .argument('<model>', 'a config JSON (see README: "Config format"), or a model file whose network vggc derives: a PyTorch checkpoint (.pth/.pt/.bin), a TensorFlow.js model.json, a .onnx or a .safetensors (README: "Bring your model")')
    .requiredOption('-o, --out <dir>', "output folder: new, empty or an earlier compile's (replaced atomically when the compile succeeds)")
    .option('-w, --weights <file>', 'with a config: weights as .safetensors or a PyTorch checkpoint (torchvision or seed-notebook key names); default: seeded random weights')
    .option('--seed <n>', 'seed for random weights when --weights is not given', parseNonNegativeInt, 0)
    .addOption(new Option('--kernels <variant>', 'kernel variant: wasmsimd (fast) or scalar-ref (plain reference loops)').choices(['wasmsimd', 'scalar-ref']).default('wasmsimd'))
    .addOption(new Option('--conv <algorithm>', '3×3 convolution algorithm: auto (the scheduler decides per layer), direct, or winograd').choices(['auto', 'direct', 'winograd']).default('auto'))
    .addOption(new Option('--winograd-tile <tile>', 'Winograd tile size: auto (a cost model picks F(4×4,3×3), F(5×5) or F(6×6) per layer; vggc summary shows it), or one for every layer that can take it (F(5×5) cannot fuse a 2×2 pool)').choices(['auto', ...Object.keys(WINOGRAD_TRANSFORMS)]).default('auto'))
    .addOption(new Option('--winograd-stream <mode>', 'how Winograd layers stream their transformed filters from memory: auto (per layer, from their size; vggc summary shows it), plain, chunked or prefetch (docs/performance.md, "Streaming U"); every mode gives the same results').choices(['auto', ...WINOGRAD_STREAMS]).default('auto'))
    .addOption(new Option('--weights-dtype <dtype>', 'how weights are stored: f32, f16, or int8 (weight-only, symmetric, one scale per output channel); fully-connected layers dequantise in the kernels').choices(WEIGHTS_DTYPES).default('f32'))
    .option('--allow-nonfinite', 'accept NaN/Inf weight values instead of refusing them')
    .option('--labels <file>', 'class names (JSON list or one per line), overriding the config; 1000-class models get the ImageNet names by default')
    .option('--shard-size <size>', `bytes per weights file, or with KiB/MiB (at least ${MIN_SHARD_BYTES} bytes); 0 writes one weights.bin. Static hosts cap file sizes (Cloudflare Pages: 25 MiB)`, parseShardSize, DEFAULT_SHARD_BYTES)
    .option('-q, --quiet', 'no progress output');
  for (const o of modelOptions()) cmd.addOption(o);
  cmd.action(async (model: string, o: CompileFlags) => {
    const started = Date.now();
    const progress = o.quiet ? undefined : progressPrinter();
    const result = await compileModel({
      configPath: model, outDir: o.out, weightsPath: o.weights, seed: o.seed, kernels: o.kernels, conv: o.conv, winogradTile: o.winogradTile, winogradStream: o.winogradStream, weightsDtype: o.weightsDtype, allowNonfinite: o.allowNonfinite,
      labelsPath: o.labels, shardBytes: o.shardSize, inputSize: o.inputSize, preprocessing: o.preprocessing, outputs: o.outputs, outputLayout: o.outputLayout, onProgress: progress,
    });
    const m = result.manifest;
    if (o.quiet) return;
    process.stderr.write('\n');
    console.log(`compiled ${m.name} → ${o.out} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    console.log(`  model.wasm          ${(m.wasm.bytes / 1024).toFixed(1)} KB  (${m.steps.length} specialised ${m.kernels} layer functions)`);
    if (m.wasm.relaxed) console.log(`  model-relaxed.wasm  ${(m.wasm.relaxed.bytes / 1024).toFixed(1)} KB  (relaxed-SIMD twin)`);
    const shards = m.weights.shards;
    const files = shards.length === 1 ? shards[0].file.padEnd(19) : `${shards.length} shards`.padEnd(19);
    console.log(`  ${files} ${(m.weights.payloadBytes / 1e6).toFixed(1)} MB  (${m.weights.dtype ?? 'f32'}; ${m.weights.source})`);
    console.log(`  arena ${(m.memory.arenaBytes / 1e6).toFixed(2)} MB, ${m.totals.params.toLocaleString('en-US')} parameters, ${(m.totals.macs / 1e9).toFixed(2)} G multiply-adds per image`);
    console.log(`  outputs             ${m.outputs.map((out) => `${out.name} [${out.shape.join('×')}]`).join(', ')}`);
  });
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

/** `--shard-size`: a size parseByteSize reads, 0 or at least MIN_SHARD_BYTES (a usage error otherwise). */
function parseShardSize(v: string): number {
  const n = parseByteSize(v);
  if (n !== 0 && n < MIN_SHARD_BYTES) throw new InvalidArgumentError(`expected 0 (one weights file) or at least ${MIN_SHARD_BYTES} bytes`);
  return n;
}
