/**
 * Writes a compiled model so that a failed or interrupted compile never leaves a half-written output
 * directory: everything goes to a temporary sibling folder, renamed over the target at the very end.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { VggcError } from '../errors.js';
import { MANIFEST_FORMAT } from '../../runtime/format/manifest.js';

/** The files `vggc compile` writes: only a folder holding nothing else may be replaced. */
const COMPILED_FILE = /^(model\.json|model\.wasm|model-relaxed\.wasm|model\.ts|weights\.bin|weights-\d{3,}\.bin)$/;

export interface StagingDir {
  /** Temporary folder to write into. */
  readonly path: string;
  /** Moves the finished folder into place (replacing an older compile). */
  commit(): void;
  /** Removes the temporary folder; the previous output stays as it was. */
  abandon(): void;
}

/**
 * `inputs`: the files the compile reads (the model, its weights, labels): the output folder may not
 * hold any of them, since committing replaces the whole folder.
 */
export function stageOutputDir(outDir: string, inputs: readonly string[] = []): StagingDir {
  const target = resolve(outDir);
  if (existsSync(target)) checkReplaceable(outDir, target, inputs);
  const parent = dirname(target);
  try {
    mkdirSync(parent, { recursive: true });
  } catch (e) {
    throw new VggcError(`${outDir}: cannot create the parent folder (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
  const path = join(parent, `.${basename(target)}.vggc-tmp-${process.pid}-${Date.now()}`);
  try {
    mkdirSync(path);
  } catch (e) {
    throw new VggcError(`${outDir}: cannot write in ${parent} (${(e as NodeJS.ErrnoException).code ?? e})`);
  }
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

/**
 * Compiling replaces the output folder as a whole, so it must be an earlier compile's output (only
 * the files vggc writes, and a vggc model.json) or empty: never a folder of the user's own, the
 * current folder, or one holding the model being compiled.
 */
function checkReplaceable(outDir: string, target: string, inputs: readonly string[]): void {
  if (!statSync(target).isDirectory()) throw new VggcError(`${outDir}: exists and is not a directory`);
  const inside = (file: string): boolean => {
    const rel = relative(target, resolve(file));
    return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
  };
  if (inside(process.cwd())) throw new VggcError(`${outDir}: is the current folder${target === process.cwd() ? '' : ' or holds it'}; compiling replaces the whole output folder, so give a new or empty folder`);
  const input = inputs.find(inside);
  if (input !== undefined) throw new VggcError(`${outDir}: holds ${input}, which this compile reads; compiling replaces the whole output folder, so give another folder`);
  const entries = readdirSync(target);
  if (entries.length === 0) return;
  const foreign = entries.filter((name) => !COMPILED_FILE.test(name));
  const manifest = join(target, 'model.json');
  if (foreign.length === 0 && existsSync(manifest) && isVggcManifest(manifest)) return;
  const example = foreign.length ? `${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''}` : 'no vggc model.json';
  throw new VggcError(`${outDir}: exists and is not a folder vggc compiled (${example}); compiling replaces the whole folder, so give a new or empty folder, or delete it first`);
}

function isVggcManifest(path: string): boolean {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { format?: unknown }).format === MANIFEST_FORMAT;
  } catch {
    return false;
  }
}
