/**
 * `vggc embed DIR IMAGE…`: images through the model's preprocessing, one output per image as an
 * embedding. `vggc distance DIR A B`: LPIPS's unlearned perceptual distance from the model's maps.
 */
import type { Command } from 'commander';
import { VggcError } from '../errors.js';
import { loadModel } from '../../runtime/load/node.js';
import { imageToTensor } from '../../runtime/images/node.js';
import { writeNpy } from '../../runtime/npy.js';
import { LPIPS_VGG16_TAPS, perceptualDistance } from '../../runtime/distance.js';
import type { VggcModel } from '../../runtime/model.js';
import type { BuildChoice } from '../../runtime/load/build.js';
import { buildOption, parseNames } from './options.js';

/** A classifier's outputs: what vggc names its last tensor. */
const HEAD_OUTPUTS = new Set(['logits', 'probabilities']);

/** `--layer`, or the last vector output that is not a classifier's logits (its penultimate layer, fc7). */
export function embeddingOutput(model: VggcModel, layer: string | undefined, dir: string): string {
  const names = model.outputs.map((o) => o.name);
  if (layer) {
    if (!names.includes(layer)) throw new VggcError(`${dir}: the model has no output ${JSON.stringify(layer)} (its outputs: ${names.join(', ')}); compile with --outputs ${layer}`);
    return layer;
  }
  const vectors = model.outputs.filter((o) => o.layout === 'features');
  const choice = [...vectors].reverse().find((o) => !HEAD_OUTPUTS.has(o.name)) ?? vectors.at(-1);
  if (!choice) throw new VggcError(`${dir}: the model has no vector output to embed with (its outputs: ${names.join(', ')}); name one with --layer, or compile with --outputs fc7`);
  return choice.name;
}

async function imageOutputs(model: VggcModel, file: string) {
  const { preprocessing, config } = model.manifest;
  return model.inferAll(await imageToTensor(file, preprocessing, [config.inputSize[0], config.inputSize[1]]), 1);
}

export function registerEmbed(program: Command): void {
  program
    .command('embed')
    .description('embed images (PNG, JPEG, WebP): one output per image — by default the last vector output, for a classifier its penultimate layer (fc7)')
    .argument('<dir>', 'folder written by vggc compile')
    .argument('<images...>', 'image files')
    .option('--layer <name>', 'the output to embed with (vggc summary and model.json list them)')
    .option('--json', 'print a JSON array: [{ file, layer, embedding: [...] }]')
    .option('--npy <file>', 'write the embeddings as one N×F float32 .npy')
    .addOption(buildOption())
    .action(async (dir: string, images: string[], o: { layer?: string; json?: boolean; npy?: string; build: BuildChoice }) => {
      const model = await loadModel(dir, { threads: 1, build: o.build });
      try {
        const layer = embeddingOutput(model, o.layer, dir);
        const rows: Float32Array[] = [];
        for (const file of images) rows.push((await imageOutputs(model, file))[layer].data);
        const size = rows[0].length;
        if (o.npy) {
          const all = new Float32Array(rows.length * size);
          rows.forEach((r, i) => all.set(r, i * size));
          writeNpy(o.npy, [rows.length, size], all);
        }
        if (o.json) console.log(JSON.stringify(images.map((file, i) => ({ file, layer, embedding: Array.from(rows[i]) }))));
        else for (const [i, file] of images.entries()) console.log(`${file}: ${layer} [${size}], norm ${Math.hypot(...rows[i]).toPrecision(5)}${o.npy ? ` → ${o.npy} row ${i}` : ''}`);
      } finally {
        model.dispose();
      }
    });

  program
    .command('distance')
    .description("perceptual distance of two images: LPIPS's unlearned variant over the model's map outputs (compile a VGG-16 with --outputs relu1_2,relu2_2,relu3_3,relu4_3,relu5_3)")
    .argument('<dir>', 'folder written by vggc compile')
    .argument('<a>', 'first image')
    .argument('<b>', 'second image')
    .option('--taps <names>', 'the map outputs to use (default: every map output of the model)', parseNames)
    .option('--json', 'print { distance, taps }')
    .addOption(buildOption())
    .action(async (dir: string, a: string, b: string, o: { taps?: string[]; json?: boolean; build: BuildChoice }) => {
      const model = await loadModel(dir, { threads: 1, build: o.build });
      try {
        const maps = model.outputs.filter((out) => out.shape.length === 3);
        const taps = o.taps ?? maps.map((out) => out.name);
        if (maps.length === 0) throw new VggcError(`${dir}: the model has no map outputs; compile with --outputs ${LPIPS_VGG16_TAPS.join(',')} (a VGG-16's LPIPS taps)`);
        for (const t of taps) {
          const out = model.outputs.find((m) => m.name === t);
          if (!out || out.shape.length !== 3) throw new VggcError(`${dir}: ${JSON.stringify(t)} is not one of the model's map outputs (${maps.map((m) => m.name).join(', ')})`);
          if (out.layout !== 'nchw') throw new VggcError(`${dir}: output ${JSON.stringify(t)} is ${out.layout}; vggc distance reads NCHW maps (compile without --output-layout nhwc)`);
        }
        const d = perceptualDistance(await imageOutputs(model, a), await imageOutputs(model, b), taps);
        console.log(o.json ? JSON.stringify({ distance: d, taps }) : `${d}`);
      } finally {
        model.dispose();
      }
    });
}
