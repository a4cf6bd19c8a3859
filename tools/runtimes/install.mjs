// @ts-check
/**
 * `npm run runtimes:install`: installs the runtimes of tools/runtimes/package.json (Node 22, 24, 26,
 * Deno, Bun, workerd) at the versions its lockfile pins, into .runtimes/, then checks that each one
 * starts. Install scripts are not run: the binaries come in the platform packages, and the wrappers'
 * postinstall scripts would only relink them (or download, which this project never does).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { probe, ROOT, RUNTIMES, RUNTIMES_DIR, WORKERD } from './runtimes.mjs';

if (process.platform !== 'linux' || process.arch !== 'x64') {
  console.error(`error: the pinned runtimes are the linux-x64 builds; this is ${process.platform}-${process.arch}`);
  process.exit(1);
}
mkdirSync(RUNTIMES_DIR, { recursive: true });
for (const f of ['package.json', 'package-lock.json']) copyFileSync(join(ROOT, 'tools/runtimes', f), join(RUNTIMES_DIR, f));
// Under `npm run`, npm_execpath is npm's own CLI: use it with this Node rather than whatever npm is on PATH.
const npm = process.env.npm_execpath ? [process.execPath, process.env.npm_execpath] : ['npm'];
const t0 = Date.now();
const r = spawnSync(npm[0], [...npm.slice(1), 'ci', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: RUNTIMES_DIR, stdio: 'inherit' });
if (r.status !== 0) {
  console.error(`error: npm ci in ${RUNTIMES_DIR} failed (exit ${r.status ?? r.signal})`);
  process.exit(1);
}
let failed = 0;
for (const rt of [...RUNTIMES, WORKERD]) {
  const p = probe(rt);
  if (p.ok) console.log(`${rt.name.padEnd(8)} ${p.version}`);
  else {
    console.error(`error: ${p.reason}`);
    failed++;
  }
}
console.log(`runtimes installed into ${RUNTIMES_DIR} in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
process.exit(failed ? 1 : 0);
