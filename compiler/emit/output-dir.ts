/**
 * Writes a compiled model so that a failed or interrupted compile never leaves a half-written output
 * directory: everything goes to a temporary sibling folder, renamed over the target at the very end.
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { VggcError } from '../errors.js';

export interface StagingDir {
  /** Temporary folder to write into. */
  readonly path: string;
  /** Moves the finished folder into place (replacing an older compile). */
  commit(): void;
  /** Removes the temporary folder; the previous output stays as it was. */
  abandon(): void;
}

export function stageOutputDir(outDir: string): StagingDir {
  const target = resolve(outDir);
  if (existsSync(target) && !statSync(target).isDirectory()) throw new VggcError(`${outDir}: exists and is not a directory`);
  const parent = dirname(target);
  try {
    mkdirSync(parent, { recursive: true });
  } catch (e) {
    throw new VggcError(`${outDir}: cannot create the parent folder (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  const path = join(parent, `.${basename(target)}.vggc-tmp-${process.pid}-${Date.now()}`);
  mkdirSync(path);
  const cleanup = (): void => rmSync(path, { recursive: true, force: true });
  // Ctrl-C during a long weight pack: remove the staging folder, keep the old output.
  const onSignal = (sig: NodeJS.Signals): void => {
    cleanup();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const detach = (): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  return {
    path,
    commit() {
      detach();
      const old = `${path}-old`;
      if (existsSync(target)) renameSync(target, old);
      renameSync(path, target);
      rmSync(old, { recursive: true, force: true });
    },
    abandon() {
      detach();
      cleanup();
    },
  };
}
