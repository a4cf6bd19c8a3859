/** `vggc run DIR --input X.npy [--output Y.npy] [--outputs-dir D]`. */
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { Command } from 'commander';
import { VggcError } from '../errors.js';
import { loadModel } from '../../runtime/load/node.js';
import { readNpy, writeNpy } from '../../runtime/npy.js';
import type { BuildChoice } from '../../runtime/load/build.js';
import { buildOption } from './options.js';

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a compiled model on a float32 .npy batch (N×C×H×W) and write its outputs as .npy')
    .argument('<dir>', 'folder written by vggc compile')
    .requiredOption('-i, --input <file>', 'input .npy, float32, shape N×C×H×W (or C×H×W for one image)')
    .option('-o, --output <file>', 'output .npy for the first output (the logits of a classifier)')
    .option('--outputs-dir <dir>', 'write every named output as <dir>/<name>.npy (N×C×H×W maps, N×F vectors)')
    .addOption(buildOption())
    .action(async function (this: Command, dir: string, o: { input: string; output?: string; outputsDir?: string; build: BuildChoice }) {
      // A usage error (exit 2, like commander's own), not a user error about a file.
      if (!o.output && !o.outputsDir) this.error('error: run: give --output FILE (the first output) and/or --outputs-dir DIR (every output)', { exitCode: 2, code: 'vggc.missingOutput' });
      const x = readNpy(o.input);
      const model = await loadModel(dir, { build: o.build });
      try {
        const [c, h, w] = model.inputShape;
        const shape = x.shape.length === 3 ? [1, ...x.shape] : x.shape;
        if (shape.length === 4 && shape[0] === 0) throw new VggcError(`${o.input}: holds no images (shape [${x.shape.join(', ')}])`);
        if (shape.length !== 4 || shape[1] !== c || shape[2] !== h || shape[3] !== w) {
          throw new VggcError(`${o.input}: shape [${x.shape.join(', ')}] does not match the model's input N×${c}×${h}×${w}`);
        }
        const started = performance.now();
        const all = await model.inferAll(x.data, shape[0]);
        const ms = performance.now() - started;
        const first = all[model.outputs[0].name];
        const written: string[] = [];
        if (o.output) {
          writeNpy(o.output, [...first.shape], first.data);
          written.push(`${o.output} [${first.shape.join(', ')}]`);
        }
        if (o.outputsDir) {
          try {
            mkdirSync(o.outputsDir, { recursive: true });
          } catch (e) {
            throw new VggcError(`${o.outputsDir}: cannot create the folder (${(e as NodeJS.ErrnoException).code ?? e}${(e as NodeJS.ErrnoException).code === 'EEXIST' ? ': a file of that name exists' : ''})`);
          }
          for (const out of model.outputs) {
            const path = join(o.outputsDir, `${fileSafe(out.name)}.npy`);
            writeNpy(path, [...all[out.name].shape], all[out.name].data);
            written.push(`${path} [${all[out.name].shape.join(', ')}]`);
          }
        }
        console.log(`${shape[0]} image(s) → ${written.join(', ')} in ${ms.toFixed(1)} ms (${model.threads} thread${model.threads > 1 ? 's' : ''}, ${model.build} build)`);
      } finally {
        model.dispose();
      }
    });
}

/** An output name as a file name: layer names are dots, letters, digits and underscores; anything else becomes `_`. */
export const fileSafe = (name: string): string => name.replace(/[^\w.-]/g, '_').replace(/^\.+/, '_');
