#!/usr/bin/env node
/**
 * vggc command line: one module per command under cli/. User errors print one line and exit 1; usage
 * errors exit 2; anything else is a bug in vggc and keeps its stack (exit 70).
 */
import { Command, CommanderError } from 'commander';
import { isVggcError } from './errors.js';
import { packageVersion } from './paths.js';
import { registerBench } from './cli/bench.js';
import { registerCompile } from './cli/compile.js';
import { registerEmbed } from './cli/embed.js';
import { registerPredict } from './cli/predict.js';
import { registerRun } from './cli/run.js';
import { registerServe } from './cli/serve.js';
import { registerSummary } from './cli/summary.js';

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

registerCompile(program);
registerRun(program);
registerPredict(program);
registerEmbed(program);
registerBench(program);
registerSummary(program);
registerServe(program);

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
