/**
 * The only names a checkpoint pickle may use, and what they mean here. torch.save pickles a tensor
 * as REDUCE(torch._utils._rebuild_tensor_v2, (storage, offset, size, stride, requires_grad, hooks))
 * with the storage as a persistent id naming a storage class (torch.FloatStorage, …), and a
 * state_dict as REDUCE(collections.OrderedDict, ()) plus SETITEMS and a BUILD of `_metadata`.
 * Nothing else is accepted: every other global is refused the moment its name is read.
 */
import type { FloatStorage } from '../../weights/half.js';
import { failIn, quoted } from './file-bytes.js';
import { describe, PickleDict, PickleList, PickleObject, PickleTuple, type PickleFail, type PickleValue, type UnpickleHooks } from './pickle.js';

export interface TorchDtype {
  /** torch's name, for messages. */
  readonly name: string;
  readonly itemSize: number;
  /** The float type vggc converts, or null for integer/bool/complex/quantised storages. */
  readonly float: FloatStorage | null;
}

/** torch's legacy storage class names (torch/storage.py _dtype_to_storage_type_map) and UntypedStorage. */
const STORAGE_TYPES: Record<string, TorchDtype> = {
  FloatStorage: { name: 'float32', itemSize: 4, float: 'F32' },
  HalfStorage: { name: 'float16', itemSize: 2, float: 'F16' },
  BFloat16Storage: { name: 'bfloat16', itemSize: 2, float: 'BF16' },
  DoubleStorage: { name: 'float64', itemSize: 8, float: 'F64' },
  LongStorage: { name: 'int64', itemSize: 8, float: null },
  IntStorage: { name: 'int32', itemSize: 4, float: null },
  ShortStorage: { name: 'int16', itemSize: 2, float: null },
  CharStorage: { name: 'int8', itemSize: 1, float: null },
  ByteStorage: { name: 'uint8', itemSize: 1, float: null },
  BoolStorage: { name: 'bool', itemSize: 1, float: null },
  ComplexFloatStorage: { name: 'complex64', itemSize: 8, float: null },
  ComplexDoubleStorage: { name: 'complex128', itemSize: 16, float: null },
  QInt8Storage: { name: 'qint8', itemSize: 1, float: null },
  QUInt8Storage: { name: 'quint8', itemSize: 1, float: null },
  QInt32Storage: { name: 'qint32', itemSize: 4, float: null },
  QUInt4x2Storage: { name: 'quint4x2', itemSize: 1, float: null },
  QUInt2x4Storage: { name: 'quint2x4', itemSize: 1, float: null },
  UntypedStorage: { name: 'uint8 (untyped storage)', itemSize: 1, float: null },
  // torch 1.12's name for it.
  _UntypedStorage: { name: 'uint8 (untyped storage)', itemSize: 1, float: null },
};

export class StorageType extends PickleObject {
  constructor(readonly className: string, readonly dtype: TorchDtype) {
    super();
  }
  describe(): string {
    return `torch.${this.className}`;
  }
}

/** A storage as a persistent id names it; where its bytes are is the format reader's business. */
export class StorageRef extends PickleObject {
  constructor(
    readonly key: string,
    readonly type: StorageType,
    /** Elements the storage (or the legacy view of one) holds. */
    readonly numel: number,
    /** Legacy storage views: where this one starts inside storage `key`, in elements. */
    readonly viewOffset = 0,
  ) {
    super();
  }
  describe(): string {
    return `storage ${quoted(this.key)}`;
  }
}

export class TorchTensor extends PickleObject {
  constructor(
    readonly storage: StorageRef,
    /** In elements, from the start of the storage's bytes (a legacy view's offset included). */
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {
    super();
  }
  describe(): string {
    return `a ${this.storage.type.dtype.name} tensor`;
  }
}

type CallableKind = 'OrderedDict' | 'rebuild_tensor_v2' | 'rebuild_tensor' | 'rebuild_parameter' | 'rebuild_parameter_with_state' | 'Size';

class TorchCallable extends PickleObject {
  constructor(readonly kind: CallableKind, readonly qualified: string) {
    super();
  }
  describe(): string {
    return this.qualified;
  }
}

const CALLABLES: Record<string, CallableKind> = {
  'collections.OrderedDict': 'OrderedDict',
  'torch._utils._rebuild_tensor_v2': 'rebuild_tensor_v2',
  'torch._utils._rebuild_tensor': 'rebuild_tensor',
  'torch._utils._rebuild_parameter': 'rebuild_parameter',
  // torch ≥ 2.0 (not in 1.13): a Parameter with Python attributes, which are dropped here.
  'torch._utils._rebuild_parameter_with_state': 'rebuild_parameter_with_state',
  'torch.Size': 'Size',
};

/** Modules whose globals mean the file is a whole pickled model rather than its state_dict. */
const MODEL_MODULES = /^(torch\.nn(\.|$)|torchvision(\.|$)|timm(\.|$)|torch\.jit(\.|$)|__torch__(\.|$)|__main__$)/;

const MAX_DIMS = 16;
/**
 * A tensor with zero strides (torch's expand()) has more elements than its storage, which bounds
 * nothing then; this does, so a hostile size cannot make a read allocate gigabytes.
 */
const MAX_EXPANDED_ELEMENTS = 1 << 24;

/** A global's name for a message: as is when it looks like a Python name, else quoted and cut short. */
export function showName(s: string): string {
  return /^[\w.<>]{1,160}$/.test(s) ? s : JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}

/** The refusal for any name outside the whitelist, with a hint when the name is a model class. */
export function refuseGlobal(path: string, module: string, name: string): never {
  const q = `${showName(module)}.${showName(name)}`;
  if (MODEL_MODULES.test(module)) {
    return failIn(path, `holds a whole pickled model (global ${q}), not a state_dict: vggc loads only tensors, never code; save model.state_dict() instead`);
  }
  return failIn(path, `refuses global ${q}: vggc loads only tensors (a state_dict), never code`);
}

/** The legacy format's ('module', class, source file, source) persistent id: a pickled nn.Module. */
export function refuseWholeModel(path: string): never {
  return failIn(path, 'holds a whole pickled model (an nn.Module with its source), not a state_dict: vggc loads only tensors, never code; save model.state_dict() instead');
}

/** Hooks for the unpickler: whitelisted globals, REDUCE/BUILD on them only, and the format's own persistent-id resolver. */
export function torchHooks(path: string, persistentLoad: UnpickleHooks['persistentLoad']): UnpickleHooks {
  return {
    global(module, name) {
      const q = `${module}.${name}`;
      if (Object.hasOwn(CALLABLES, q)) return new TorchCallable(CALLABLES[q], q);
      if ((module === 'torch' || module === 'torch.cuda') && Object.hasOwn(STORAGE_TYPES, name)) return new StorageType(name, STORAGE_TYPES[name]);
      return refuseGlobal(path, module, name);
    },
    reduce(callable, args, fail) {
      if (!(callable instanceof TorchCallable)) return fail(`REDUCE applies ${describe(callable)}, which is not callable here`);
      return applyCallable(callable, args.items, fail);
    },
    build(target, state, fail) {
      // OrderedDict's __dict__ (state_dict's `_metadata`) and a Parameter's Python attributes: kept or
      // dropped, never applied to anything that could run code.
      if (target instanceof PickleDict) target.state = state;
      else if (!(target instanceof TorchTensor)) fail(`BUILD on ${describe(target)} is not supported`);
    },
    persistentLoad,
  };
}

function applyCallable(c: TorchCallable, args: readonly PickleValue[], fail: PickleFail): PickleValue {
  const arity = (min: number, max = min): void => {
    if (args.length < min || args.length > max) fail(`${c.qualified} takes ${min === max ? min : `${min} to ${max}`} arguments, found ${args.length}`);
  };
  switch (c.kind) {
    case 'OrderedDict': {
      arity(0, 1);
      const d = new PickleDict();
      if (args.length === 1) fillFromPairs(d, args[0], fail);
      return d;
    }
    case 'rebuild_tensor_v2':
      // torch ≥ 2.1 may add a 7th argument (tensor metadata), which has no effect on the values.
      arity(6, 7);
      return rebuildTensor(args, c.qualified, fail);
    case 'rebuild_tensor':
      arity(4);
      return rebuildTensor(args, c.qualified, fail);
    case 'rebuild_parameter':
    case 'rebuild_parameter_with_state':
      arity(c.kind === 'rebuild_parameter' ? 3 : 4);
      if (!(args[0] instanceof TorchTensor)) fail(`${c.qualified} wraps ${describe(args[0])}, not a tensor`);
      return args[0];
    case 'Size':
      arity(1);
      if (!(args[0] instanceof PickleTuple)) fail(`torch.Size of ${describe(args[0])}, not a tuple`);
      return args[0];
  }
}

function fillFromPairs(d: PickleDict, pairs: PickleValue, fail: PickleFail): void {
  if (!(pairs instanceof PickleList || pairs instanceof PickleTuple)) return fail(`OrderedDict of ${describe(pairs)}, expected a list of pairs`);
  for (const p of pairs.items) {
    const kv = p instanceof PickleTuple || p instanceof PickleList ? p.items : null;
    if (!kv || kv.length !== 2 || kv[0] instanceof PickleList || kv[0] instanceof PickleDict) return fail(`OrderedDict item ${describe(p)} is not a (key, value) pair`);
    d.map.set(kv[0], kv[1]);
  }
}

/** (storage, storage_offset, size, stride, …): checked so that every element lies inside the storage. */
function rebuildTensor(args: readonly PickleValue[], qualified: string, fail: PickleFail): TorchTensor {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) return fail(`${qualified}: storage argument is ${describe(storage)}, not a storage`);
  if (!isIndex(offset)) return fail(`${qualified}: storage offset ${valueText(offset)} is not a non-negative integer`);
  const shape = indexTuple(size, 'size', qualified, fail);
  const strides = indexTuple(stride, 'stride', qualified, fail);
  if (shape.length !== strides.length) fail(`${qualified}: size has ${shape.length} dimensions but stride has ${strides.length}`);
  let numel = 1;
  let last = offset;
  for (let i = 0; i < shape.length; i++) {
    numel *= shape[i];
    last += Math.max(0, shape[i] - 1) * strides[i];
    if (!Number.isSafeInteger(numel) || !Number.isSafeInteger(last)) fail(`${qualified}: size [${shape.join(', ')}] with stride [${strides.join(', ')}] is too large`);
  }
  if (numel > storage.numel && numel > MAX_EXPANDED_ELEMENTS) {
    fail(`${qualified}: tensor of size [${shape.join(', ')}] has ${numel} elements but views only ${storage.numel} (zero strides); vggc reads at most ${MAX_EXPANDED_ELEMENTS} elements of such a view`);
  }
  if (numel > 0 && last >= storage.numel) {
    fail(`${qualified}: tensor of size [${shape.join(', ')}], stride [${strides.join(', ')}] at offset ${offset} reaches element ${last} of a ${storage.numel}-element storage`);
  }
  return new TorchTensor(storage, storage.viewOffset + offset, shape, strides);
}

function indexTuple(v: PickleValue, what: string, qualified: string, fail: PickleFail): number[] {
  if (!(v instanceof PickleTuple)) return fail(`${qualified}: ${what} is ${describe(v)}, not a tuple`);
  if (v.items.length > MAX_DIMS) fail(`${qualified}: ${what} has ${v.items.length} dimensions (at most ${MAX_DIMS})`);
  return v.items.map((x) => (isIndex(x) ? x : fail(`${qualified}: ${what} entry ${valueText(x)} is not a non-negative integer`)));
}

/** A number as itself, anything else by its type (the message must stay one short line). */
export function valueText(v: PickleValue): string {
  return typeof v === 'number' || typeof v === 'bigint' ? String(v) : describe(v);
}

/**
 * The storages persistent ids have named so far, by key. A key named again must agree on type and
 * size (torch.save writes one storage per key); its size is bounded by the file's, so a damaged
 * count is caught before any tensor could be read from it.
 */
export function registerStorage(
  storages: Map<string, StorageRef>,
  key: PickleValue,
  type: PickleValue,
  numel: PickleValue,
  fileSize: number,
  fail: PickleFail,
): StorageRef {
  if (typeof key !== 'string') return fail(`storage key is ${describe(key)}, not a str`);
  if (!(type instanceof StorageType)) return fail(`storage ${quoted(key)} has type ${describe(type)}, not a torch storage class`);
  if (!isIndex(numel)) return fail(`storage ${quoted(key)} has size ${valueText(numel)}, not a non-negative integer`);
  if (numel * type.dtype.itemSize > fileSize) fail(`storage ${quoted(key)} of ${numel} ${type.dtype.name} elements is larger than the file (${fileSize} bytes)`);
  const known = storages.get(key);
  if (known) {
    if (known.type.className !== type.className || known.numel !== numel) {
      fail(`storage ${quoted(key)} is named as ${known.numel} × ${known.type.className} and as ${numel} × ${type.className}`);
    }
    return known;
  }
  const ref = new StorageRef(key, type, numel);
  storages.set(key, ref);
  return ref;
}

export function isIndex(v: PickleValue): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

export { PickleDict, PickleList, PickleTuple };

/** What a format reader (zip or legacy) hands to checkpoint.ts: the unpickled object and where storages are. */
export interface CheckpointPickle {
  readonly root: PickleValue;
  readonly format: 'zip' | 'legacy';
  /** File position of the storage's element 0, after checking that all its bytes are in the file. */
  storageBase(ref: StorageRef): number;
  /**
   * Checks the data of every storage storageBase was asked for against the file's own checksums
   * (a zip member's CRC-32), reading it all once; the legacy format has none to check.
   */
  verifyData(): void;
}
