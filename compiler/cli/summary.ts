/** `vggc summary MODEL`: what was derived, the layer table, every layer's output names, the steps and the memory plan. */
import { Option, type Command } from 'commander';
import { readModelInput } from '../frontend/index.js';
import { configJson } from '../frontend/config/config-json.js';
import { planFromConfig } from '../pipeline.js';
import { renderSummary } from '../summary/summary.js';
import { WEIGHTS_DTYPES, type WeightsDtype } from '../weights/layout.js';
import { modelOptions, type ModelOptionValues } from './options.js';

const FORMAT_LABELS = { config: 'config', onnx: 'ONNX model', pytorch: 'PyTorch checkpoint', tfjs: 'TensorFlow.js LayersModel', safetensors: 'safetensors checkpoint' } as const;

export function registerSummary(program: Command): void {
  const cmd = program
    .command('summary')
    .description('print the layer table (output shapes, parameters, multiply-adds, the names each output answers to), the fused kernels and the memory plan')
    .argument('<model>', 'a config JSON or a model file (.pth/.pt/.bin, TF.js model.json, .onnx, .safetensors)')
    .addOption(new Option('--kernels <variant>', 'kernel variant to plan for').choices(['wasmsimd', 'scalar-ref']).default('wasmsimd'))
    .addOption(new Option('--weights-dtype <dtype>', 'weight storage to plan for').choices(WEIGHTS_DTYPES).default('f32'));
  for (const o of modelOptions()) cmd.addOption(o);
  cmd.action((model: string, o: ModelOptionValues & { kernels: 'wasmsimd' | 'scalar-ref'; weightsDtype: WeightsDtype }) => {
    const input = readModelInput(model, o);
    const config = input.config;
    if (input.format !== 'config') console.log(`${model}: ${FORMAT_LABELS[input.format]}; derived config:\n  ${JSON.stringify(configJson(config))}\n`);
    const plans = new Map(WEIGHTS_DTYPES.map((d) => [d, planFromConfig(config, model, { variant: o.kernels, weights: d }, input.layerNames)]));
    const sizes = Object.fromEntries([...plans].map(([d, plan]) => [d, plan.weights.payloadBytes]));
    console.log(renderSummary(plans.get(o.weightsDtype)!, sizes, input.layerNames));
  });
}
