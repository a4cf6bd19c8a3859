// Ctrl-C during a long `vggc compile` (README: "If it fails or you press Ctrl-C, the previous output
// stays."). A child process compiles examples/vgg11.json (seeded weights, 642 MB to pack) into a folder
// that holds an earlier compile of a small model; SIGINT is sent once "packing weights" appears on
// stderr. Expected: exit code 130, the folder's model.json unchanged, no `.…vggc-tmp…` folder left.
// Uses the built CLI, dist/compiler/cli.js (npm test builds first).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { GOLDEN, ROOT, tempDir } from './helpers.js';

const CLI = join(ROOT, 'dist/compiler/cli.js');
const tmp = tempDir('vggc-hostile-sigint-');
const parent = join(tmp, 'parent');
const out = join(parent, 'model');

interface Interrupted {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  sentAfterMs: number;
  totalMs: number;
}

/** Starts the vgg11 compile, sends SIGINT when packing starts, waits for the exit. */
function compileAndInterrupt(): Promise<Interrupted> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [CLI, 'compile', join(ROOT, 'examples/vgg11.json'), '--seed', '1', '-o', out], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let sentAfterMs = -1;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => {
      stderr += d;
      if (sentAfterMs < 0 && stderr.includes('packing weights')) {
        sentAfterMs = Date.now() - t0;
        child.kill('SIGINT');
      }
    });
    const watchdog = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(watchdog);
      resolve({ code, signal, stderr, sentAfterMs, totalMs: Date.now() - t0 });
    });
  });
}

describe('SIGINT during vggc compile', () => {
  let before: string;

  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npx tsc -p tsconfig.json\` first`);
    mkdirSync(parent);
    const r = spawnSync(process.execPath, [CLI, 'compile', join(GOLDEN, 'gray-odd/config.json'), '-q', '-o', out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    before = readFileSync(join(out, 'model.json'), 'utf8');
  });

  // packWeights yields to the event loop every few MB, so the staging folder's SIGINT handler runs
  // during packing: it removes the staging folder and exits 130 before anything is committed.
  it('SIGINT while packing weights exits 130 and leaves the previous output and no temp folder', async () => {
    const r = await compileAndInterrupt();
    expect(r.sentAfterMs, r.stderr).toBeGreaterThan(0);
    expect(r.code, r.stderr).toBe(130);
    expect(r.stderr).not.toContain('packing weights 100%');
    expect(readFileSync(join(out, 'model.json'), 'utf8')).toBe(before);
    expect(readdirSync(parent)).toEqual(['model']);
  }, 180_000);
});
