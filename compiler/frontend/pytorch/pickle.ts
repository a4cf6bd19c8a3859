/**
 * A restricted unpickler, written from the opcode definitions in CPython's pickle.py/pickletools.py.
 * It executes nothing: GLOBAL, REDUCE, BUILD and persistent ids are handed to `hooks`, which decide
 * what they mean (torch-globals.ts whitelists the few callables a state_dict uses and refuses every
 * other name as soon as it is read, before any REDUCE could apply it). Opcodes a state_dict never
 * needs (INST, OBJ, NEWOBJ, EXT*, out-of-band buffers, protocol 0's text forms) are refused.
 *
 * Bounded: each opcode consumes at least one byte and does work linear in what it consumes; lengths
 * are checked against the bytes left before anything is allocated; the stack, the mark stack, the
 * memo and the number of objects created have fixed limits, so a hostile pickle can neither hang the
 * reader nor make it allocate much more than the pickle's own size.
 */
import { failIn } from './file-bytes.js';
import { PickleEnd, type PickleInput } from './pickle-input.js';

/** Host values (tensors, storages, whitelisted callables) extend this so the machine can tell them apart. */
export abstract class PickleObject {
  abstract describe(): string;
}
export class PickleTuple {
  constructor(readonly items: readonly PickleValue[]) {}
}
export class PickleList {
  readonly items: PickleValue[] = [];
}
export class PickleDict {
  /** Python dict semantics for the keys a checkpoint uses (str, int): a later SETITEM replaces. */
  readonly map = new Map<PickleValue, PickleValue>();
  /** What BUILD set (OrderedDict's `_metadata`): kept, never interpreted. */
  state: PickleValue | undefined;
}
export class PickleBytes {
  constructor(readonly bytes: Uint8Array) {}
}
export type PickleValue = null | boolean | number | bigint | string | PickleBytes | PickleTuple | PickleList | PickleDict | PickleObject;

/** Throws the unpickler's message for the current opcode: `<path>: <label> byte <n>: <message>`. */
export type PickleFail = (message: string) => never;

export interface UnpickleHooks {
  /** GLOBAL / STACK_GLOBAL: the value to push, or throw to refuse the name. */
  global(module: string, name: string): PickleValue;
  /** REDUCE: `callable` is whatever `global` returned (or anything else a hostile file put there). */
  reduce(callable: PickleValue, args: PickleTuple, fail: PickleFail): PickleValue;
  build(target: PickleValue, state: PickleValue, fail: PickleFail): void;
  persistentLoad(pid: PickleValue, fail: PickleFail): PickleValue;
}

export interface UnpickleContext {
  /** The checkpoint's path: every message starts with it. */
  readonly path: string;
  /** Which pickle, for messages: `archive/data.pkl`, `legacy pickle 4`. */
  readonly label: string;
  /** Refuse data longer than this (the caller's bound on a pickle's size). */
  readonly maxBytes: number;
}

/**
 * A checkpoint's pickle holds only the object structure (tensor data is stored apart): a VGG's
 * state_dict with optimizer state is tens of kilobytes, one with thousands of tensors a few megabytes.
 */
export const MAX_PICKLE_BYTES = 16 << 20;

const MAX_STACK = 1 << 20;
/** Every push is a reference some container may keep: this bounds their memory (≈ 64 MB) whatever the nesting. */
const MAX_PUSHES = 1 << 23;
const MAX_MARKS = 1 << 14;
const MAX_MEMO = 1 << 20;
const MAX_OBJECTS = 1 << 21;
const MAX_GLOBAL_LINE = 512;
const MAX_LONG_BYTES = 64;

/** The first object in `input` (up to its STOP), with the input left just after the STOP. */
export function unpickle(input: PickleInput, hooks: UnpickleHooks, ctx: UnpickleContext): PickleValue {
  const start = input.position;
  let opAt = start;
  const fail: PickleFail = (m) => failIn(ctx.path, `${ctx.label} byte ${opAt - start}: ${m}`);
  let stack: PickleValue[] = [];
  const marks: PickleValue[][] = [];
  const memo = new Map<number, PickleValue>();
  let objects = 0;
  let pushes = 0;

  const push = (v: PickleValue): void => {
    if (stack.length >= MAX_STACK) fail(`stack exceeds ${MAX_STACK} items`);
    if (++pushes > MAX_PUSHES) fail(`pushes more than ${MAX_PUSHES} values`);
    stack.push(v);
  };
  const created = <T extends PickleValue>(v: T): T => {
    if (++objects > MAX_OBJECTS) fail(`creates more than ${MAX_OBJECTS} objects`);
    return v;
  };
  const pop = (): PickleValue => {
    if (stack.length === 0) fail('stack underflow (damaged pickle)');
    return stack.pop()!;
  };
  const top = (): PickleValue => {
    if (stack.length === 0) fail('stack underflow (damaged pickle)');
    return stack[stack.length - 1];
  };
  /** Items pushed since the last MARK; the stack below it becomes current again. */
  const popMark = (): PickleValue[] => {
    const items = stack;
    const below = marks.pop();
    if (below === undefined) fail('no MARK to close (damaged pickle)');
    stack = below!;
    return items;
  };
  /** A length field, checked against the bytes left (and the size limit) before anything is allocated. */
  const length = (n: number | bigint): number => {
    const left = Math.min(input.remaining(), ctx.maxBytes - (input.position - start));
    if (n < 0 || n > left) fail(`length ${n} runs past the end of the data (${left} bytes left)`);
    return Number(n);
  };
  const u32 = (): number => new DataView(copy(input.bytes(4)).buffer).getUint32(0, true);
  const u64 = (): bigint => new DataView(copy(input.bytes(8)).buffer).getBigUint64(0, true);
  const text = (b: Uint8Array): string => {
    try {
      return created(new TextDecoder('utf-8', { fatal: true }).decode(b));
    } catch {
      return fail('string is not valid UTF-8');
    }
  };
  const line = (): string => {
    const bytes: number[] = [];
    for (let c = input.byte(); c !== 0x0a; c = input.byte()) {
      if (bytes.length >= MAX_GLOBAL_LINE) fail(`name longer than ${MAX_GLOBAL_LINE} bytes`);
      bytes.push(c);
    }
    return text(Uint8Array.from(bytes));
  };
  const memoIndex = (i: number): number => {
    if (!memo.has(i) && memo.size >= MAX_MEMO) fail(`memo exceeds ${MAX_MEMO} entries`);
    return i;
  };
  const get = (i: number): PickleValue => {
    if (!memo.has(i)) fail(`memo entry ${i} was never stored (damaged pickle)`);
    return memo.get(i)!;
  };
  const setItems = (target: PickleValue, items: PickleValue[]): void => {
    if (!(target instanceof PickleDict)) fail(`SETITEM(S) on ${describe(target)}, not a dict`);
    if (items.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) (target as PickleDict).map.set(dictKey(items[i], fail), items[i + 1]);
  };
  const append = (target: PickleValue, items: PickleValue[]): void => {
    if (!(target instanceof PickleList)) fail(`APPEND(S) on ${describe(target)}, not a list`);
    for (const v of items) (target as PickleList).items.push(v);
  };

  try {
    for (;;) {
      opAt = input.position;
      if (opAt - start > ctx.maxBytes) fail(`pickle is longer than the ${ctx.maxBytes}-byte limit`);
      const op = input.byte();
      switch (op) {
        case 0x80: { // PROTO
          const v = input.byte();
          if (v > 5) fail(`pickle protocol ${v} (vggc reads protocols 2 to 5)`);
          break;
        }
        case 0x95: length(u64()); break; // FRAME: a length hint for buffering; frames need no handling
        case 0x2e: { // STOP
          if (marks.length) fail('STOP inside an unclosed MARK (damaged pickle)');
          if (stack.length !== 1) fail(`STOP with ${stack.length} items on the stack, expected 1 (damaged pickle)`);
          return stack[0];
        }
        case 0x28: // MARK
          if (marks.length >= MAX_MARKS) fail(`MARKs nested deeper than ${MAX_MARKS}`);
          marks.push(stack);
          stack = [];
          break;
        case 0x30: pop(); break; // POP
        case 0x31: popMark(); break; // POP_MARK
        case 0x32: push(top()); break; // DUP
        case 0x4e: push(null); break; // NONE
        case 0x88: push(true); break; // NEWTRUE
        case 0x89: push(false); break; // NEWFALSE
        case 0x4a: push(new DataView(copy(input.bytes(4)).buffer).getInt32(0, true)); break; // BININT
        case 0x4b: push(input.byte()); break; // BININT1
        case 0x4d: push(new DataView(copy(input.bytes(2)).buffer).getUint16(0, true)); break; // BININT2
        case 0x8a: push(decodeLong(input.bytes(input.byte()))); break; // LONG1
        case 0x8b: { // LONG4
          const n = u32();
          if (n > MAX_LONG_BYTES) fail(`integer of ${n} bytes (at most ${MAX_LONG_BYTES})`);
          push(decodeLong(input.bytes(length(n))));
          break;
        }
        case 0x47: push(new DataView(copy(input.bytes(8)).buffer).getFloat64(0, false)); break; // BINFLOAT (big-endian)
        case 0x8c: push(text(input.bytes(input.byte()))); break; // SHORT_BINUNICODE
        case 0x58: push(text(input.bytes(length(u32())))); break; // BINUNICODE
        case 0x8d: push(text(input.bytes(length(u64())))); break; // BINUNICODE8
        // Python 2's str (old legacy checkpoints); torch.load decodes it as UTF-8 too.
        case 0x55: push(text(input.bytes(input.byte()))); break; // SHORT_BINSTRING
        case 0x54: push(text(input.bytes(length(new DataView(copy(input.bytes(4)).buffer).getInt32(0, true))))); break; // BINSTRING
        case 0x43: push(created(new PickleBytes(copy(input.bytes(input.byte()))))); break; // SHORT_BINBYTES
        case 0x42: push(created(new PickleBytes(copy(input.bytes(length(u32())))))); break; // BINBYTES
        case 0x8e: // BINBYTES8
        case 0x96: push(created(new PickleBytes(copy(input.bytes(length(u64())))))); break; // BYTEARRAY8
        case 0x29: push(created(new PickleTuple([]))); break; // EMPTY_TUPLE
        case 0x74: push(created(new PickleTuple(popMark()))); break; // TUPLE
        case 0x85: push(created(new PickleTuple([pop()]))); break; // TUPLE1
        case 0x86: { const b = pop(); const a = pop(); push(created(new PickleTuple([a, b]))); break; } // TUPLE2
        case 0x87: { const c = pop(); const b = pop(); const a = pop(); push(created(new PickleTuple([a, b, c]))); break; } // TUPLE3
        case 0x5d: push(created(new PickleList())); break; // EMPTY_LIST
        case 0x6c: { const l = created(new PickleList()); append(l, popMark()); push(l); break; } // LIST
        case 0x61: { const v = pop(); append(top(), [v]); break; } // APPEND
        case 0x65: { const items = popMark(); append(top(), items); break; } // APPENDS
        case 0x7d: push(created(new PickleDict())); break; // EMPTY_DICT
        case 0x64: { const d = created(new PickleDict()); setItems(d, popMark()); push(d); break; } // DICT
        case 0x73: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; } // SETITEM
        case 0x75: { const items = popMark(); setItems(top(), items); break; } // SETITEMS
        case 0x71: memo.set(memoIndex(input.byte()), top()); break; // BINPUT
        case 0x72: memo.set(memoIndex(u32()), top()); break; // LONG_BINPUT
        case 0x94: memo.set(memoIndex(memo.size), top()); break; // MEMOIZE
        case 0x68: push(get(input.byte())); break; // BINGET
        case 0x6a: push(get(u32())); break; // LONG_BINGET
        case 0x63: { const module = line(); push(hooks.global(module, line())); break; } // GLOBAL
        case 0x93: { // STACK_GLOBAL
          const name = pop();
          const module = pop();
          if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
          push(hooks.global(module as string, name as string));
          break;
        }
        case 0x52: { const args = pop(); const f = pop(); push(created(hooks.reduce(f, asTuple(args, 'REDUCE', fail), fail))); break; } // REDUCE
        case 0x62: { const state = pop(); hooks.build(top(), state, fail); break; } // BUILD
        case 0x51: push(created(hooks.persistentLoad(pop(), fail))); break; // BINPERSID
        case 0x69: { // INST: module and class inline, then instantiated; refused by name like GLOBAL
          const module = line();
          hooks.global(module, line());
          return fail('INST is not supported');
        }
        default:
          return fail(`unsupported pickle opcode ${opcodeName(op)}: vggc reads only the opcodes torch.save writes for tensors`);
      }
    }
  } catch (e) {
    if (e instanceof PickleEnd) return fail('data ends before the pickle does (truncated or damaged file)');
    throw e;
  }
}

/** Little-endian two's complement; a number when it fits exactly, else a bigint. */
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Dict keys as Python compares them for the types checkpoints use: strings and integers by value. */
function dictKey(k: PickleValue, fail: (m: string) => never): PickleValue {
  if (k instanceof PickleList || k instanceof PickleDict) fail(`unhashable dict key ${describe(k)}`);
  return typeof k === 'bigint' ? String(k) : k;
}

function asTuple(v: PickleValue, op: string, fail: (m: string) => never): PickleTuple {
  if (!(v instanceof PickleTuple)) fail(`${op} needs an argument tuple, found ${describe(v)}`);
  return v as PickleTuple;
}

function copy(b: Uint8Array): Uint8Array {
  return Uint8Array.from(b);
}

/** A value's type for messages, in Python's terms. */
export function describe(v: PickleValue): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return 'a bool';
  if (typeof v === 'number' || typeof v === 'bigint') return Number.isInteger(v) || typeof v === 'bigint' ? 'an int' : 'a float';
  if (typeof v === 'string') return 'a str';
  if (v instanceof PickleBytes) return 'bytes';
  if (v instanceof PickleTuple) return `a ${v.items.length}-tuple`;
  if (v instanceof PickleList) return 'a list';
  if (v instanceof PickleDict) return 'a dict';
  return v.describe();
}

const NAMES: Record<number, string> = {
  0x81: 'NEWOBJ', 0x92: 'NEWOBJ_EX', 0x6f: 'OBJ', 0x82: 'EXT1', 0x83: 'EXT2', 0x84: 'EXT4', 0x50: 'PERSID',
  0x97: 'NEXT_BUFFER', 0x98: 'READONLY_BUFFER', 0x8f: 'EMPTY_SET', 0x90: 'ADDITEMS', 0x91: 'FROZENSET',
  0x46: 'FLOAT', 0x49: 'INT', 0x4c: 'LONG', 0x53: 'STRING', 0x56: 'UNICODE', 0x67: 'GET', 0x70: 'PUT',
};
function opcodeName(op: number): string {
  const hex = `0x${op.toString(16).padStart(2, '0')}`;
  return NAMES[op] ? `${NAMES[op]} (${hex})` : hex;
}
