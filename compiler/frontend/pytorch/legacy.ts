/**
 * torch.save's legacy format (`_use_new_zipfile_serialization=False`, and every checkpoint before
 * PyTorch 1.6), per torch/serialization.py `_legacy_save`: five pickles back to back — the magic
 * number 0x1950a86a20f9469cfc6c, protocol version 1001, a sys_info dict, the object itself (storages
 * as persistent ids ('storage', class, key, location, numel, view)), the sorted list of storage keys
 * — then each listed storage as an 8-byte little-endian element count and its raw elements.
 */
import { checkSpan, failIn, quoted, readAt, type OpenFile } from './file-bytes.js';
import { MAX_PICKLE_BYTES, PickleDict, PickleList, PickleTuple, unpickle, type PickleFail, type PickleValue, type UnpickleHooks } from './pickle.js';
import { fileInput, type PickleInput } from './pickle-input.js';
import { isIndex, refuseGlobal, refuseWholeModel, registerStorage, StorageRef, torchHooks, valueText, type CheckpointPickle } from './torch-globals.js';

const MAGIC_NUMBER = 0x1950a86a20f9469cfc6cn;
const PROTOCOL_VERSION = 1001;

/** A legacy checkpoint is a bare pickle: its first byte is PROTO. */
export function looksLikeLegacy(head: Uint8Array): boolean {
  return head.length >= 2 && head[0] === 0x80;
}

export function readLegacyCheckpoint(file: OpenFile): CheckpointPickle {
  const input = fileInput(file, 0);
  const read = (label: string, hooks: UnpickleHooks): PickleValue => unpickle(input, hooks, { path: file.path, label, maxBytes: MAX_PICKLE_BYTES });
  const plain = dataOnlyHooks(file.path);

  const magic = read('magic number pickle', plain);
  if (magic !== MAGIC_NUMBER) failIn(file.path, `starts with a pickle of ${valueText(magic)}, not torch's magic number: not a PyTorch checkpoint`);
  const version = read('protocol version pickle', plain);
  if (version !== PROTOCOL_VERSION) failIn(file.path, `legacy checkpoint has protocol version ${valueText(version)}, expected ${PROTOCOL_VERSION}`);
  const sysInfo = read('sys_info pickle', plain);
  if (!(sysInfo instanceof PickleDict)) return failIn(file.path, 'legacy checkpoint: sys_info is not a dict');
  if (sysInfo.map.get('little_endian') === false) failIn(file.path, 'was written on a big-endian machine; vggc reads little-endian checkpoints only');

  const storages = new Map<string, StorageRef>();
  const persistentLoad = (pid: PickleValue, fail: PickleFail): PickleValue => {
    const items = pid instanceof PickleTuple ? pid.items : null;
    if (items?.[0] === 'module') return refuseWholeModel(file.path);
    if (!items || items.length !== 6 || items[0] !== 'storage') return fail("persistent id is not ('storage', class, key, location, size, view)");
    if (typeof items[3] !== 'string') fail('persistent id location is not a str');
    const root = registerStorage(storages, items[2], items[1], items[4], file.size, fail);
    return items[5] === null ? root : storageView(root, items[5], fail);
  };
  const root = read('pickle', torchHooks(file.path, persistentLoad));
  const keys = read('storage key list pickle', plain);
  const bases = locateStorages(file, input, keys, storages);
  return {
    root,
    format: 'legacy',
    storageBase(ref) {
      const base = bases.get(ref.key);
      if (base === undefined) return failIn(file.path, `storage ${quoted(ref.key)} is used by a tensor but missing from the file's storage list`);
      return base;
    },
    verifyData(): void {
      // The legacy format stores raw bytes with no checksum: nothing to check them against.
    },
  };
}

/** Pre-1.0 checkpoints could name part of a storage: (view key, offset, size), in elements. */
function storageView(root: StorageRef, meta: PickleValue, fail: PickleFail): StorageRef {
  const v = meta instanceof PickleTuple ? meta.items : null;
  if (!v || v.length !== 3 || typeof v[0] !== 'string' || !isIndex(v[1]) || !isIndex(v[2])) return fail('storage view is not (key, offset, size)');
  const [offset, size] = [v[1] as number, v[2] as number];
  if (offset + size > root.numel) fail(`storage view ${quoted(v[0] as string)} (elements ${offset}..${offset + size}) runs past its ${root.numel}-element storage ${quoted(root.key)}`);
  return new StorageRef(root.key, root.type, size, offset);
}

/** Walks the storages after the last pickle; each must hold exactly the element count its persistent id declared. */
function locateStorages(file: OpenFile, input: PickleInput, keys: PickleValue, storages: ReadonlyMap<string, StorageRef>): Map<string, number> {
  if (!(keys instanceof PickleList)) return failIn(file.path, 'legacy checkpoint: the storage key list is not a list');
  const bases = new Map<string, number>();
  let pos = input.position;
  for (const key of keys.items) {
    if (typeof key !== 'string') return failIn(file.path, `legacy checkpoint: storage key list holds ${valueText(key)}, not a str`);
    const ref = storages.get(key);
    if (!ref) return failIn(file.path, `legacy checkpoint: storage key list names ${quoted(key)}, which the pickle never uses`);
    if (bases.has(key)) failIn(file.path, `legacy checkpoint: storage key list names ${quoted(key)} twice`);
    const count = new DataView(readAt(file, pos, 8, `size of storage ${quoted(key)}`).buffer).getBigUint64(0, true);
    if (count !== BigInt(ref.numel)) failIn(file.path, `legacy storage ${quoted(key)} at byte ${pos} holds ${count} elements but the pickle declares ${ref.numel}`);
    const bytes = ref.numel * ref.type.dtype.itemSize;
    checkSpan(file, pos + 8, bytes, `legacy storage ${quoted(key)}`);
    bases.set(key, pos + 8);
    pos += 8 + bytes;
  }
  if (pos !== file.size) failIn(file.path, `legacy checkpoint: ${file.size - pos} unexpected bytes after the last storage (at byte ${pos})`);
  return bases;
}

/** For the pickles around the main one, which hold only numbers, strings and containers. */
function dataOnlyHooks(path: string): UnpickleHooks {
  return {
    global: (module, name) => refuseGlobal(path, module, name),
    reduce: (_f, _args, fail) => fail('REDUCE in a pickle that should hold only data'),
    build: (_t, _s, fail) => fail('BUILD in a pickle that should hold only data'),
    persistentLoad: (_pid, fail) => fail('persistent id in a pickle that should hold only data'),
  };
}
