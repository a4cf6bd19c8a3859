// @ts-check
/**
 * The JavaScript runtimes vggc is tested and benchmarked on, and where `npm run runtimes:install`
 * (tools/runtimes/install.mjs) puts them: registry packages that ship their binaries, pinned in
 * tools/runtimes/package-lock.json and installed into .runtimes/ (ignored by git, and never part of
 * what the project's own `npm ci` installs for users). Node 20 is the Node that runs the tools
 * (Debian's, in CI); there is no current Node 20 package on the registry to pin.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const RUNTIMES_DIR = join(ROOT, '.runtimes');
const MODULES = join(RUNTIMES_DIR, 'node_modules');

/**
 * @typedef {object} Runtime
 * @property {string} name     short name used on command lines (node24, deno, …)
 * @property {string} label    for tables
 * @property {string} bin      the executable
 * @property {string[]} run    arguments before the script to run it
 * @property {string[]} version arguments that print its version
 */

/** Node 20: this process when it is Node 20, else VGGC_NODE20. */
function node20() {
  if (process.env.VGGC_NODE20) return process.env.VGGC_NODE20;
  if (process.versions.node.startsWith('20.') && !('Deno' in globalThis) && !('Bun' in globalThis)) return process.execPath;
  return '/usr/bin/node';
}

// Deno needs permissions: reading the model and the goldens, writing the results, the environment
// and the CPU count (os.availableParallelism, for the default thread count).
const DENO_RUN = ['run', '--quiet', '--allow-read', '--allow-write', '--allow-env', '--allow-sys'];

/** @type {Runtime[]} */
export const RUNTIMES = [
  { name: 'node20', label: 'Node 20', bin: node20(), run: [], version: ['--version'] },
  { name: 'node22', label: 'Node 22', bin: join(MODULES, 'node22/bin/node'), run: [], version: ['--version'] },
  { name: 'node24', label: 'Node 24', bin: join(MODULES, 'node24/bin/node'), run: [], version: ['--version'] },
  { name: 'node26', label: 'Node 26', bin: join(MODULES, 'node26/bin/node'), run: [], version: ['--version'] },
  // The platform packages hold the binaries; the wrapper packages' postinstall scripts only relink them.
  { name: 'deno', label: 'Deno', bin: join(MODULES, '@deno/linux-x64-glibc/deno'), run: DENO_RUN, version: ['--version'] },
  { name: 'bun', label: 'Bun', bin: join(MODULES, '@oven/bun-linux-x64/bin/bun'), run: [], version: ['--version'] },
];

/** Cloudflare's Workers runtime (test/runtimes/workerd/). */
export const WORKERD = { name: 'workerd', label: 'workerd', bin: join(MODULES, '@cloudflare/workerd-linux-64/bin/workerd'), version: ['--version'] };

/** @param {string} name */
export function runtime(name) {
  const r = RUNTIMES.find((x) => x.name === name);
  if (!r) throw new Error(`unknown runtime ${name} (known: ${RUNTIMES.map((x) => x.name).join(', ')})`);
  return r;
}

/**
 * The runtime's version line, or why it cannot run: a missing runtime is reported, never skipped.
 * @param {{ name: string, bin: string, version: string[] }} r
 * @returns {{ ok: true, version: string } | { ok: false, reason: string }}
 */
export function probe(r) {
  if (!existsSync(r.bin)) return { ok: false, reason: `${r.name}: no executable at ${r.bin} (run \`npm run runtimes:install\`)` };
  const p = spawnSync(r.bin, r.version, { encoding: 'utf8' });
  if (p.status !== 0) return { ok: false, reason: `${r.name}: ${r.bin} ${r.version.join(' ')} failed (${(p.stderr || String(p.error)).trim().split('\n')[0]})` };
  const version = p.stdout.trim().split('\n')[0];
  if (r.name === 'node20' && !version.startsWith('v20.')) return { ok: false, reason: `node20: ${r.bin} is ${version}, not Node 20 (run under Node 20 or set VGGC_NODE20)` };
  return { ok: true, version };
}
