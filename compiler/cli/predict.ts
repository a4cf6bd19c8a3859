/** `vggc predict DIR IMAGE…`: top-K classes per image. */
import type { Command } from 'commander';
import { isVggcError } from '../errors.js';
import { loadModel } from '../../runtime/load/node.js';
import { imageToTensor } from '../../runtime/images/node.js';
import { outputKind, topK, type Prediction } from '../../runtime/predict.js';
import type { BuildChoice } from '../../runtime/load/build.js';
import { buildOption, parsePositiveInt } from './options.js';

export function registerPredict(program: Command): void {
  program
    .command('predict')
    .description('classify image files (PNG, JPEG, WebP) with a compiled model: top-K classes with probabilities')
    .argument('<dir>', 'folder written by vggc compile')
    .argument('<images...>', 'image files')
    .option('-k, --top <k>', 'how many classes to show per image', parsePositiveInt, 5)
    .option('--json', 'print a JSON array: [{ file, predictions: [{ label, index, probability }] }]')
    .addOption(buildOption())
    .action(async (dir: string, images: string[], o: { top: number; json?: boolean; build: BuildChoice }) => {
      const model = await loadModel(dir, { threads: 1, build: o.build }); // small inputs one at a time: no pool needed
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
}
