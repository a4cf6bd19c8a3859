/**
 * `vggc summary MODEL`: what was derived, the layer table, every layer's output names, the steps and
 * the memory plan. `vggc summary DIR` (a folder vggc compiled): the same from its model.json, as it
 * was compiled.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { isFolder, readModelInput } from '../frontend/index.js';
import { configJson } from '../frontend/config/config-json.js';
import { validateConfig } from '../frontend/config/parse.js';
import { buildGraph } from '../graph/graph.js';
import { planFromConfig } from '../pipeline.js';
import { renderSummary } from '../summary/summary.js';
import { renderCompiledSummary } from '../summary/compiled.js';
import { WEIGHTS_DTYPES, type WeightsDtype } from '../weights/layout.js';
import { VggcError } from '../../runtime/format/errors.js';
import { readManifest } from '../../runtime/load/node.js';
import { modelOptions, type ModelOptionValues } from './options.js';

const FORMAT_LABELS = { config: 'config', onnx: 'ONNX model', pytorch: 'PyTorch checkpoint', tfjs: 'TensorFlow.js LayersModel', safetensors: 'safetensors checkpoint' } as const;

export function registerSummary(program: Command): void {
  const cmd = program
    .command('summary')
    .description('print the layer table (output shapes, parameters, multiply-adds, the names each output answers to), the fused kernels and the memory plan; of a compiled folder, what its model.json records')
    .argument('<model>', 'a config JSON or a model file (.pth/.pt/.bin, TF.js model.json, .onnx, .safetensors), or a folder written by vggc compile')
    .addOption(new Option('--kernels <variant>', 'kernel variant to plan for').choices(['wasmsimd', 'scalar-ref']).default('wasmsimd'))
    .addOption(new Option('--weights-dtype <dtype>', 'weight storage to plan for').choices(WEIGHTS_DTYPES).default('f32'));
  for (const o of modelOptions()) cmd.addOption(o);
  cmd.action((model: string, o: ModelOptionValues & { kernels: 'wasmsimd' | 'scalar-ref'; weightsDtype: WeightsDtype }) => {
    if (isFolder(model)) {
      // A compiled folder was compiled with its options; planning flags would describe another compile.
      const given = cmd.options.filter((opt) => cmd.getOptionValueSource(opt.attributeName()) === 'cli').map((opt) => opt.long);
      if (given.length) throw new VggcError(`${given.join(', ')} ${given.length > 1 ? 'apply' : 'applies'} to a model file, not to a compiled folder (vggc summary ${model} shows what it was compiled with)`);
      console.log(compiledSummary(model));
      return;
    }
    const input = readModelInput(model, o);
    const config = input.config;
    if (input.format !== 'config') console.log(`${model}: ${FORMAT_LABELS[input.format]}; derived config:\n  ${JSON.stringify(configJson(config))}\n`);
    const plans = new Map(WEIGHTS_DTYPES.map((d) => [d, planFromConfig(config, model, { variant: o.kernels, weights: d }, input.layerNames)]));
    const sizes = Object.fromEntries([...plans].map(([d, plan]) => [d, plan.weights.payloadBytes]));
    console.log(renderSummary(plans.get(o.weightsDtype)!, sizes, input.layerNames));
  });
}

function compiledSummary(dir: string): string {
  const manifestPath = join(dir, 'model.json');
  if (!existsSync(manifestPath)) {
    throw new VggcError(`${dir} is a folder without model.json; expected a folder written by vggc compile, or a model file: a config JSON, .pth/.pt/.bin, a TF.js model.json, .onnx or .safetensors`);
  }
  const manifest = readManifest(manifestPath);
  const graph = buildGraph(validateConfig(manifest.config, `${manifestPath} (config)`));
  const size = (file: string): number | null => (existsSync(join(dir, file)) ? statSync(join(dir, file)).size : null);
  return renderCompiledSummary(dir, manifest, graph, {
    wasmBytes: size(manifest.wasm.file),
    relaxedBytes: manifest.wasm.relaxed ? size(manifest.wasm.relaxed.file) : null,
    missingShards: manifest.weights.shards.filter((s) => !existsSync(join(dir, s.file))).map((s) => s.file),
  });
}
