// @ts-check
/**
 * Runs a script under one of the installed runtimes (tools/runtimes/runtimes.mjs), passing on its
 * arguments, output and exit code; fails with the reason when the runtime is not installed.
 *
 *   node tools/runtimes/exec.mjs node24 bench/run.mjs --quick
 */
import { spawnSync } from 'node:child_process';
import { probe, runtime } from './runtimes.mjs';

const [name, ...args] = process.argv.slice(2);
if (!name || args.length === 0) {
  console.error('usage: node tools/runtimes/exec.mjs RUNTIME SCRIPT [ARGS…]');
  process.exit(2);
}
const rt = runtime(name);
const p = probe(rt);
if (!p.ok) {
  console.error(`error: ${p.reason}`);
  process.exit(1);
}
const r = spawnSync(rt.bin, [...rt.run, ...args], { stdio: 'inherit' });
process.exit(r.status ?? 1);
