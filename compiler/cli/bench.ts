/**
 * `vggc bench DIR`: whole-network median and the per-layer profile, each layer's GFLOP/s held to the
 * compute ceiling measured now on this machine (ceiling.ts), or to the one given with --ceiling.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { loadModel } from '../../runtime/load/node.js';
import { formatProfile, median, profileLayers, type ProfileCeiling } from '../../runtime/profile-node.js';
import type { BuildChoice } from '../../runtime/load/build.js';
import { measureCeiling, reportedGflops } from './ceiling.js';
import { buildOption, parsePositiveInt } from './options.js';

/** `--ceiling 52.5`: GFLOP/s per thread, a positive number. */
function parseGflops(v: string): number {
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v.trim()) || !(n > 0)) throw new InvalidArgumentError('expected GFLOP/s per thread, a positive number such as 52.5');
  return n;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('time a compiled model: whole-network median and a per-layer breakdown (ms, GFLOP/s, share of the micro-kernel ceiling)')
    .argument('<dir>', 'folder written by vggc compile')
    .option('--runs <n>', 'timed runs (medians are reported)', parsePositiveInt, 7)
    .option('--threads <n>', "threads (default: available cores, at most the model's maximum)", parsePositiveInt)
    .option('--ceiling <gflops>', "one thread's compute ceiling for the profile's \"of\" column (default: measured now, vggc's 4×8 GEMM register tile over operands in L1, about 2 s)", parseGflops)
    .addOption(buildOption())
    .action(async (dir: string, o: { runs: number; threads?: number; build: BuildChoice; ceiling?: number }) => {
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
      const ceiling: ProfileCeiling =
        o.ceiling === undefined ? await measuredCeiling(model.build === 'relaxed') : { gflops: o.ceiling, source: 'given with --ceiling' };
      for (const line of formatProfile(profile, ceiling)) console.log(line);
    });
}

/** The ceiling measured now, with the build's multiply-add (the relaxed build's is fused). */
async function measuredCeiling(relaxed: boolean): Promise<ProfileCeiling> {
  const c = await measureCeiling({ relaxed });
  return { gflops: reportedGflops(c), source: `measured now: ${c.tile}, best of ${c.runs} runs, median ${c.median.toFixed(1)}` };
}
