/** `vggc bench DIR`: whole-network median and the per-layer profile. */
import type { Command } from 'commander';
import { loadModel } from '../../runtime/load/node.js';
import { formatProfile, median, profileLayers } from '../../runtime/profile-node.js';
import type { BuildChoice } from '../../runtime/load/build.js';
import { buildOption, parsePositiveInt } from './options.js';

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('time a compiled model: whole-network median and a per-layer breakdown (ms, GFLOP/s, share of the micro-kernel ceiling)')
    .argument('<dir>', 'folder written by vggc compile')
    .option('--runs <n>', 'timed runs (medians are reported)', parsePositiveInt, 7)
    .option('--threads <n>', "threads (default: available cores, at most the model's maximum)", parsePositiveInt)
    .addOption(buildOption())
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
}
