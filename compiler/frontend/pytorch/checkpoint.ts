/**
 * Reads a PyTorch checkpoint (`.pth`, `.pt`, `.bin` from torch.save) without Python and without
 * running anything in it: the zip format or the legacy one, its pickle through the restricted
 * unpickler, then the state_dict — the file's top-level mapping of tensors, or the one a training
 * checkpoint keeps under `state_dict`, `model_state_dict`, `model` or `net` (or its only mapping of
 * tensors). Tensors are read on demand; only the pickle and the zip directory are read up front.
 */
import * as os from 'node:os';
import * as fs from 'node:fs';
import { failIn, openForReading, quoted, readAt, type OpenFile } from './file-bytes.js';
import { readLegacyCheckpoint, looksLikeLegacy } from './legacy.js';
import { describe, PickleDict, type PickleValue } from './pickle.js';
import { storedTensor, type TorchStoredTensor } from './stored-tensor.js';
import { TorchTensor, type CheckpointPickle } from './torch-globals.js';
import { readZipCheckpoint } from './zip-checkpoint.js';
import { looksLikeZip } from './zip.js';

export interface TorchFile {
  readonly path: string;
  readonly format: 'zip' | 'legacy';
  /**
   * The state_dict in file order, keys without DataParallel's `module.` and torch.compile's
   * `_orig_mod.` prefixes, BatchNorm's `num_batches_tracked` counters left out.
   */
  readonly tensors: ReadonlyMap<string, TorchStoredTensor>;
  /**
   * Checks every tensor's stored bytes against the file's checksums (zip: each storage member's
   * CRC-32; legacy files carry none). Reads all tensor data once, so a compile calls it and a
   * summary does not; opening and reading a span read only what they need.
   */
  verifyData(): void;
  close(): void;
}

/** Where training scripts conventionally keep the model's state_dict, in order of preference. */
const STATE_DICT_KEYS = ['state_dict', 'model_state_dict', 'model', 'net'];
const WRAPPER_PREFIXES = ['module.', '_orig_mod.'];

export function readTorchFile(path: string): TorchFile {
  // Every typed-array view of tensor data assumes the file's little-endian order is the host's.
  if (os.endianness() !== 'LE') throw new Error('vggc needs a little-endian host');
  const file = openForReading(path);
  try {
    const pickle = readFormat(file);
    const stateDict = findStateDict(path, pickle.root);
    const tensors = new Map<string, TorchStoredTensor>();
    const originalOf = new Map<string, string>();
    for (const [key, value] of stateDict.map) {
      const k = key as string; // findStateDict checked: string keys, tensor values
      const name = stripWrappers(k);
      if (name === 'num_batches_tracked' || name.endsWith('.num_batches_tracked')) continue;
      const earlier = originalOf.get(name);
      if (earlier !== undefined) failIn(path, `tensors ${quoted(earlier)} and ${quoted(k)} are both ${quoted(name)} once the module./_orig_mod. prefixes are removed`);
      originalOf.set(name, k);
      const t = value as TorchTensor;
      tensors.set(name, storedTensor(file, pickle.storageBase(t.storage), t, k));
    }
    let closed = false;
    return {
      path,
      format: pickle.format,
      tensors,
      verifyData: () => pickle.verifyData(),
      close() {
        if (!closed) fs.closeSync(file.fd);
        closed = true;
      },
    };
  } catch (e) {
    fs.closeSync(file.fd);
    throw e;
  }
}

function readFormat(file: OpenFile): CheckpointPickle {
  const head = readAt(file, 0, Math.min(file.size, 512), 'file header');
  if (looksLikeZip(head)) return readZipCheckpoint(file);
  if (looksLikeLegacy(head)) return readLegacyCheckpoint(file);
  if (head.length >= 262 && new TextDecoder().decode(head.subarray(257, 262)) === 'ustar') {
    return failIn(file.path, 'is a tar-format checkpoint from PyTorch before 0.4, which vggc does not read; load it with torch and save model.state_dict() again');
  }
  return failIn(file.path, 'is not a PyTorch checkpoint: neither a torch.save zip archive nor a legacy torch.save pickle');
}

function findStateDict(path: string, root: PickleValue): PickleDict {
  if (isTensorMapping(root)) return root;
  if (root instanceof TorchTensor) return failIn(path, 'holds a single tensor, not a state_dict (a dict of named tensors)');
  if (!(root instanceof PickleDict)) return failIn(path, `holds ${describe(root)}, not a state_dict (a dict of named tensors)`);
  for (const key of STATE_DICT_KEYS) {
    const v = root.map.get(key);
    if (isTensorMapping(v)) return v;
  }
  const mappings = [...root.map.entries()].filter(([, v]) => isTensorMapping(v));
  if (mappings.length === 1) return mappings[0][1] as PickleDict;
  const keys = [...root.map.keys()].slice(0, 8).map((k) => (typeof k === 'string' ? quoted(k) : describe(k)));
  const more = root.map.size > 8 ? ', …' : '';
  if (mappings.length === 0) {
    return failIn(path, `holds a dict with no state_dict in it (keys ${keys.join(', ')}${more}): expected a dict of tensors, or one under ${STATE_DICT_KEYS.map((k) => `"${k}"`).join(', ')}`);
  }
  return failIn(path, `holds ${mappings.length} dicts of tensors (${mappings.slice(0, 4).map(([k]) => (typeof k === 'string' ? quoted(k) : describe(k))).join(', ')}) and none under ${STATE_DICT_KEYS.map((k) => `"${k}"`).join(', ')}: cannot tell which is the model`);
}

/** A state_dict: at least one entry, every key a string, every value a tensor. */
function isTensorMapping(v: PickleValue | undefined): v is PickleDict {
  if (!(v instanceof PickleDict) || v.map.size === 0) return false;
  for (const [k, t] of v.map) if (typeof k !== 'string' || !(t instanceof TorchTensor)) return false;
  return true;
}

/** `module.features.0.weight` (DataParallel/DDP), `_orig_mod.…` (torch.compile), in any nesting. */
function stripWrappers(key: string): string {
  for (;;) {
    const p = WRAPPER_PREFIXES.find((w) => key.startsWith(w));
    if (!p) return key;
    key = key.slice(p.length);
  }
}
