/**
 * model.json's `weightsManifest`: groups of weights, each group one byte stream split over the shard
 * files in `paths` (concatenated in order), its weights laid back to back in `weights` order. A
 * weight takes shape-size × (bytes of its quantised dtype, or of its dtype) bytes, exactly as
 * tfjs-core's weights_loader and io_utils.decodeWeights count them.
 *
 * Everything is checked here, before any weight is read: names unique, shapes sane, quantisation
 * parameters present, shard paths confined to model.json's folder, and each group's shards exactly
 * as long as its weights.
 */
import * as fs from 'node:fs';
import * as nodePath from 'node:path';
import { VggcError } from '../../errors.js';
import { field, isObject, quote, show } from './json-fields.js';

/** How a weight's values are stored: as its dtype (plain), or quantised by tensorflowjs_converter. */
export type WeightStorage =
  | { readonly kind: 'plain' }
  | { readonly kind: 'uint8' | 'uint16'; readonly scale: number; readonly min: number }
  | { readonly kind: 'float16' };

export interface Shard {
  /** As written in the manifest, for messages. */
  readonly path: string;
  /** Resolved (symlinks too) inside model.json's folder. */
  readonly file: string;
  readonly bytes: number;
  /** Where it starts in its group's byte stream. */
  readonly start: number;
}

export interface WeightGroup {
  /** 1-based, as the converter numbers `group1-shard1of2.bin`. */
  readonly number: number;
  readonly shards: readonly Shard[];
}

export interface WeightEntry {
  readonly name: string;
  /** Keras's shape as the manifest gives it (kernels HWIO / [in, out]). */
  readonly shape: readonly number[];
  readonly count: number;
  /** The manifest's dtype (the original one for quantised weights). */
  readonly dtype: string;
  readonly storage: WeightStorage;
  readonly group: WeightGroup;
  /** Byte range in the group's stream. */
  readonly offset: number;
  readonly byteLength: number;
  /** Bytes per stored value (of the quantised dtype, when quantised). */
  readonly valueBytes: number;
}

/** Bytes per value, tfjs-core's DTYPE_VALUE_SIZE_MAP. */
const VALUE_BYTES: Record<string, number> = { float32: 4, float16: 2, int32: 4, uint16: 2, uint8: 1, bool: 1, complex64: 8 };

export function readManifest(manifest: unknown, modelPath: string): Map<string, WeightEntry> {
  const fail = (msg: string): never => {
    throw new VggcError(`${modelPath}: ${msg}`);
  };
  if (!Array.isArray(manifest)) return fail(`weightsManifest must be a list of weight groups, not ${show(manifest)}`);
  const entries = new Map<string, WeightEntry>();
  manifest.forEach((g, gi) => {
    const where = `weightsManifest[${gi}]`;
    if (!isObject(g)) fail(`${where} must be an object with paths and weights, not ${show(g)}`);
    const group = g as Record<string, unknown>;
    const paths = group.paths;
    const weights = group.weights;
    if (!Array.isArray(paths) || !paths.every((p) => typeof p === 'string')) return fail(`${where}.paths must be a list of file names, not ${show(paths)}`);
    if (!Array.isArray(weights)) return fail(`${where}.weights must be a list, not ${show(weights)}`);
    const shards: Shard[] = [];
    let start = 0;
    for (const p of paths as string[]) {
      const { file, bytes } = resolveShard(p, modelPath, fail);
      shards.push({ path: p, file, bytes, start });
      start += bytes;
    }
    const shardBytes = start;
    const weightGroup: WeightGroup = { number: gi + 1, shards };
    let offset = 0;
    weights.forEach((w, wi) => {
      const entry = readEntry(w, `${where}.weights[${wi}]`, weightGroup, offset, fail);
      if (entries.has(entry.name)) fail(`weight ${quote(entry.name)} is listed twice in weightsManifest`);
      entries.set(entry.name, entry);
      offset += entry.byteLength;
      if (offset > shardBytes) {
        const short = shortShard(shards);
        fail(
          `weight ${quote(entry.name)} needs bytes [${entry.offset}, ${offset}) of weight group ${gi + 1}, but its shards${shards.length ? ` (${shards.map((s) => quote(s.path)).join(', ')})` : ''} hold only ${shardBytes} bytes${short ? ` (${quote(short.path)} too short?)` : ''}`,
        );
      }
    });
    if (offset < shardBytes) {
      fail(`weight group ${gi + 1}'s shards (${shards.map((s) => quote(s.path)).join(', ')}) hold ${shardBytes} bytes, but its weights take ${offset}; the shards do not match the manifest`);
    }
  });
  return entries;
}

/**
 * The shard most likely cut short: the TF.js converter writes every shard of a group at one size
 * (its shard size) but the last, so a shard before the last that is smaller than the largest is
 * the one; otherwise the last.
 */
function shortShard(shards: readonly Shard[]): Shard | undefined {
  const largest = Math.max(...shards.map((s) => s.bytes));
  return shards.slice(0, -1).find((s) => s.bytes < largest) ?? shards[shards.length - 1];
}

function readEntry(w: unknown, where: string, group: WeightGroup, offset: number, fail: (msg: string) => never): WeightEntry {
  if (!isObject(w)) return fail(`${where} must be an object with name, shape and dtype, not ${show(w)}`);
  const name = w.name;
  if (typeof name !== 'string' || name === '') return fail(`${where} has no name`);
  const at = `weight ${quote(name)}`;
  const shape = w.shape;
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) return fail(`${at} has an invalid shape ${show(shape)}`);
  const count = shape.reduce((a: number, b: number) => a * b, 1);
  if (!Number.isSafeInteger(count * 8)) fail(`${at} has an impossibly large shape ${show(shape)}`);
  const dtype = w.dtype;
  if (typeof dtype !== 'string') return fail(`${at} has no dtype`);
  if (dtype === 'string') fail(`${at} has dtype 'string', whose byte length is not fixed; vggc reads numeric weights only`);
  const q = w.quantization;
  let storage: WeightStorage;
  let valueBytes: number;
  if (q === undefined || q === null) {
    if (!(dtype in VALUE_BYTES)) fail(`${at} has unknown dtype ${show(dtype)}`);
    valueBytes = VALUE_BYTES[dtype];
    storage = { kind: 'plain' };
  } else {
    if (!isObject(q)) return fail(`${at}: quantization must be an object, not ${show(q)}`);
    const qd = q.dtype;
    valueBytes = VALUE_BYTES[qd as string] ?? 0;
    if (qd === 'uint8' || qd === 'uint16') {
      // tfjs requires both; its decoder computes value × scale + min in double precision.
      const scale = q.scale;
      const min = q.min;
      if (typeof scale !== 'number' || typeof min !== 'number' || !Number.isFinite(scale) || !Number.isFinite(min)) {
        fail(`${at} is quantised to ${qd} but its quantization has no finite scale and min (${show(q)})`);
      }
      storage = { kind: qd, scale: scale as number, min: min as number };
    } else if (qd === 'float16') {
      storage = { kind: 'float16' };
    } else {
      return fail(`${at} has quantization dtype ${show(qd)}; TF.js quantises to 'uint8', 'uint16' or 'float16'`);
    }
    const original = field(q, 'original_dtype');
    if (original !== undefined && original !== dtype) fail(`${at}: quantization.original_dtype ${show(original)} differs from its dtype ${show(dtype)}`);
  }
  return { name, shape, count, dtype, storage, group, offset, byteLength: count * valueBytes, valueBytes };
}

/**
 * A shard path relative to model.json's folder, refusing anything that could leave it: URLs,
 * absolute paths (POSIX or Windows), `..` components, and symlinks resolving outside the folder.
 */
function resolveShard(p: string, modelPath: string, fail: (msg: string) => never): { file: string; bytes: number } {
  const refuse = (why: string): never => fail(`weight shard ${quote(p)} refused: ${why}`);
  if (p === '') refuse('an empty path');
  if (p.includes('\0')) refuse('the path contains a NUL character');
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(p)) refuse("a URL; vggc reads shards from model.json's folder");
  if (nodePath.isAbsolute(p) || nodePath.win32.isAbsolute(p) || /^[A-Za-z]:/.test(p)) refuse("an absolute path; shards must be files in model.json's folder");
  if (p.split(/[\\/]/).some((part) => part === '..')) refuse("the path has '..' components; shards must be files in model.json's folder");
  const dir = nodePath.dirname(nodePath.resolve(modelPath));
  let realDir: string;
  let realFile: string;
  let stat: fs.Stats;
  try {
    realDir = fs.realpathSync(dir);
    realFile = fs.realpathSync(nodePath.resolve(dir, p));
    stat = fs.statSync(realFile);
  } catch (e) {
    return fail(`weight shard ${quote(p)} cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  const rel = nodePath.relative(realDir, realFile);
  if (rel === '') refuse("it names model.json's folder itself, not a file");
  if (rel.startsWith('..') || nodePath.isAbsolute(rel)) refuse(`it resolves (through a symlink) to ${realFile}, outside model.json's folder`);
  if (!stat.isFile()) refuse('not a regular file');
  return { file: realFile, bytes: stat.size };
}
