/**
 * torch.save's default format (PyTorch ≥ 1.6): a zip archive `<name>/data.pkl`, `<name>/data/<key>`
 * per storage (raw little-endian elements), `<name>/version`. The prefix is the file's base name
 * when it was written, so any prefix is accepted. Persistent ids are
 * ('storage', storage class, key, location, numel).
 */
import { failIn, quoted, type OpenFile } from './file-bytes.js';
import { MAX_PICKLE_BYTES, unpickle, PickleTuple, type PickleFail, type PickleValue } from './pickle.js';
import { memoryInput } from './pickle-input.js';
import { registerStorage, torchHooks, type CheckpointPickle, type StorageRef } from './torch-globals.js';
import { checkStoredEntryCrc, entryDataOffset, readEntryBytes, readZipDirectory, type ZipEntry } from './zip.js';

export function readZipCheckpoint(file: OpenFile): CheckpointPickle {
  const entries = readZipDirectory(file);
  const names = [...entries.keys()];
  const pickles = names.filter((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (names.some((n) => n === 'constants.pkl' || n.endsWith('/constants.pkl'))) {
    failIn(file.path, 'is a TorchScript archive (torch.jit.save), which holds code; vggc reads torch.save(model.state_dict()) checkpoints');
  }
  if (pickles.length === 0) failIn(file.path, 'zip archive has no data.pkl: not a torch.save checkpoint');
  if (pickles.length > 1) failIn(file.path, `zip archive has ${pickles.length} data.pkl members (${pickles.slice(0, 3).map(quoted).join(', ')}); torch.save writes one`);
  const pickleName = pickles[0];
  const prefix = pickleName.slice(0, pickleName.length - 'data.pkl'.length);
  const label = pickleName;

  // torch ≥ 2.1 records the writer's byte order; without the member (1.13 and older) it is little-endian.
  const byteorder = entries.get(`${prefix}byteorder`);
  if (byteorder) {
    const order = new TextDecoder().decode(readEntryBytes(file, byteorder, 16)).trim();
    if (order !== 'little') failIn(file.path, `was written on a ${quoted(order)}-endian machine (${quoted(byteorder.name)}); vggc reads little-endian checkpoints only`);
  }
  const data = readEntryBytes(file, entries.get(pickleName)!, MAX_PICKLE_BYTES);
  const storages = new Map<string, StorageRef>();
  const persistentLoad = (pid: PickleValue, fail: PickleFail): PickleValue => {
    const items = pid instanceof PickleTuple ? pid.items : null;
    if (!items || items.length !== 5 || items[0] !== 'storage') return fail("persistent id is not ('storage', class, key, location, size)");
    if (typeof items[3] !== 'string') fail('persistent id location is not a str');
    return registerStorage(storages, items[2], items[1], items[4], file.size, fail);
  };
  const input = memoryInput(data);
  const root = unpickle(input, torchHooks(file.path, persistentLoad), { path: file.path, label, maxBytes: MAX_PICKLE_BYTES });
  if (input.remaining() !== 0) failIn(file.path, `${label}: ${input.remaining()} bytes after the pickle's STOP (damaged file)`);

  const bases = new Map<string, { readonly entry: ZipEntry; readonly base: number }>();
  return {
    root,
    format: 'zip',
    storageBase(ref: StorageRef): number {
      const known = bases.get(ref.key);
      if (known !== undefined) return known.base;
      const name = `${prefix}data/${ref.key}`;
      const entry = entries.get(name);
      if (!entry) return failIn(file.path, `zip archive has no member ${quoted(name)} for storage ${quoted(ref.key)}`);
      const base = checkStorageEntry(file, entry, ref);
      bases.set(ref.key, { entry, base });
      return base;
    },
    verifyData(): void {
      for (const { entry, base } of bases.values()) checkStoredEntryCrc(file, entry, base);
    },
  };
}

/** The member must be stored (torch never compresses tensor data) and hold exactly the storage's bytes. */
function checkStorageEntry(file: OpenFile, entry: ZipEntry, ref: StorageRef): number {
  const fail = (m: string): never => failIn(file.path, `zip entry ${quoted(entry.name)}: ${m}`);
  if (entry.method !== 0) fail(`is compressed (method ${entry.method}); torch.save stores tensor data uncompressed and vggc reads it only so`);
  if (entry.size !== entry.compressedSize) fail(`stored entry has size ${entry.size} but ${entry.compressedSize} stored bytes`);
  const bytes = ref.numel * ref.type.dtype.itemSize;
  if (entry.size !== bytes) fail(`holds ${entry.size} bytes but data.pkl declares ${ref.numel} × ${ref.type.dtype.name} = ${bytes} bytes`);
  return entryDataOffset(file, entry);
}
