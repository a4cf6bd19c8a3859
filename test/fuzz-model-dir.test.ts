// Property-based fuzzing of the model-folder loader (fast-check, fixed seeds: a failure prints the seed
// and the shrunk counterexample). test/golden/gray-odd is compiled once, with 4 KiB weight shards; its
// model.json, weight shards and model.wasm are then damaged. Property: loading either fails with a
// one-line VggcError naming a file of the folder, or succeeds, and then a one-image infer() returns
// numClasses logits (finite or NaN) without crashing; and with model.json intact, a folder whose
// shards differ in any byte from the compiled ones never loads (the shard check).
//
// Budget (measured on 2 cores): a successful loadModel (read files, compile 16 KB of wasm with
// TurboFan, instantiate, stream weights) + one infer of gray-odd costs ≈ 4 ms, plus ≈ 0.5 ms to write
// the mutated folder; about a quarter of the damaged folders load, the rest are refused early, so a
// case averages ≈ 1.2 ms. We do:
//   - 10,000 manifest mutations through checkManifest and, when accepted (about half), through the
//     same createInstance + wrapInstance + infer the loader uses, with the module compiled once
//     (≈ 12 s for the 10,000);
//   - 10,000 full loadModel(dir, { threads: 1 }) runs on folders with model.json (text or fields),
//     weight shards (bit flips, truncation, padding, a shard removed or two swapped) or model.wasm
//     (bit flips, truncation) damaged. Only the files that change between cases are rewritten; a
//     case then costs ≈ 2.4 ms (≈ 24 s), up to 8.5 ms when the machine's load average was 9.
//
// The bugs this fuzzer found are fixed and have regression tests at the end.
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../runtime/load/node.js';
import { checkManifest } from '../runtime/format/manifest-check.js';
import { checkWasmMatchesManifest } from '../runtime/format/wasm-tag.js';
import { createInstance } from '../runtime/instance.js';
import { wrapInstance } from '../runtime/infer.js';
import type { Manifest } from '../runtime/format/manifest.js';
import { VggcError } from '../runtime/format/errors.js';
import { compileGolden, rejection, tempDir } from './helpers.js';

const MANIFEST_RUNS = 10_000;
const LOAD_RUNS = 10_000;

const tmp = tempDir('vggc-fuzz-model-');
let dir: string;
let manifestText: string;
let manifest: Manifest;
let wasmBytes: Buffer;
/** The compiled shards, in payload order. */
let shardFiles: string[];
let shardBytes: Buffer[];
let module: WebAssembly.Module;

beforeAll(async () => {
  dir = await compileGolden('gray-odd', 'wasmsimd', tmp, { shardBytes: 4096 });
  manifestText = readFileSync(join(dir, 'model.json'), 'utf8');
  manifest = JSON.parse(manifestText);
  wasmBytes = readFileSync(join(dir, 'model.wasm'));
  shardFiles = manifest.weights.shards.map((s) => s.file);
  shardBytes = shardFiles.map((f) => readFileSync(join(dir, f)));
  module = await WebAssembly.compile(new Uint8Array(wasmBytes));
});

/** Anything but a one-line VggcError naming the model folder (or the input) is a bug. */
function classify(e: unknown, phase: 'load' | 'infer', fileOk: (msg: string) => boolean): void {
  if (!(e instanceof VggcError)) {
    const err = e as Error;
    throw new Error(`expected a VggcError during ${phase}, got ${err?.constructor?.name}: ${err?.stack ?? String(e)}`);
  }
  if (/[\r\n]/.test(e.message)) throw new Error(`message is not one line: ${JSON.stringify(e.message)}`);
  if (!fileOk(e.message)) throw new Error(`message does not name the model folder: ${JSON.stringify(e.message)}`);
}

function checkLogits(y: unknown, numClasses: number): void {
  if (!(y instanceof Float32Array)) throw new Error(`infer returned ${String(y)}`);
  if (y.length !== numClasses) throw new Error(`infer returned ${y.length} logits, expected ${numClasses}`);
  for (const v of y) if (!Number.isFinite(v) && !Number.isNaN(v)) throw new Error(`logit ${v}`);
}

// ── manifest mutations ───────────────────────────────────────────────────────────────────────────

type Json = unknown;
type Slot = [Record<string, Json> | Json[], string | number];

function slots(v: Json, numericOnly: boolean): Slot[] {
  const out: Slot[] = [];
  const walk = (x: Json): void => {
    const children: Slot[] = Array.isArray(x) ? x.map((_, i) => [x, i] as Slot) : x && typeof x === 'object' ? Object.keys(x).map((k) => [x as Record<string, Json>, k] as Slot) : [];
    for (const s of children) {
      const child = (s[0] as Record<string | number, Json>)[s[1]];
      if (!numericOnly || typeof child === 'number') out.push(s);
      walk(child);
    }
  };
  walk(v);
  return out;
}

type Edit = { kind: 'delete' | 'replace' | 'perturb' | 'retype'; at: number; value: unknown; op: number; amount: number };

const nasty = fc.oneof(
  fc.constantFrom<unknown>(0, -1, 1, 0.5, 2 ** 31, 2 ** 32, 2 ** 53, 1e308, -0, 65536, 65535, null, true, '', 'x', '1', [], {}, [0], { file: 'model.wasm' }, 'model.wasm', '../x', '.hidden'),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.jsonValue({ maxDepth: 2 }),
);
const edit: fc.Arbitrary<Edit> = fc.record({
  kind: fc.constantFrom('delete', 'replace', 'perturb', 'perturb', 'perturb', 'retype'),
  at: fc.nat(),
  value: nasty,
  op: fc.integer({ min: 0, max: 9 }),
  amount: fc.oneof(fc.integer({ min: 1, max: 16 }), fc.constantFrom(64, 1024, 4096, 65536, 2 ** 20)),
});

function perturb(x: number, op: number, amount: number): number {
  switch (op) {
    case 0: return x + amount;
    case 1: return x - amount;
    case 2: return x * 2;
    case 3: return Math.floor(x / 2);
    case 4: return -x;
    case 5: return x + 0.5;
    case 6: return 0;
    case 7: return x + 65536 * amount;
    case 8: return 2 ** 32 + x;
    default: return x + 1;
  }
}

function mutateManifest(base: Json, edits: readonly Edit[]): Json {
  const m = structuredClone(base);
  for (const e of edits) {
    const all = slots(m, e.kind === 'perturb');
    if (all.length === 0) continue;
    const [parent, key] = all[e.at % all.length];
    const rec = parent as Record<string | number, Json>;
    const old = rec[key];
    switch (e.kind) {
      case 'delete':
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete rec[key];
        break;
      case 'replace':
        rec[key] = structuredClone(e.value);
        break;
      case 'perturb':
        rec[key] = perturb(old as number, e.op, e.amount);
        break;
      case 'retype':
        rec[key] = typeof old === 'number' ? String(old) : typeof old === 'string' ? Number(old) || old.length : Array.isArray(old) ? { ...old } : old && typeof old === 'object' ? Object.values(old) : [old];
        break;
    }
  }
  return m;
}

/** Numeric fields the runtime reads: most perturbations should land on one of these. */
const focused = fc.record({
  path: fc.constantFrom(
    ['memory', 'pages'], ['memory', 'arenaBase'], ['memory', 'arenaBytes'], ['memory', 'weightsBase'], ['memory', 'params'], ['memory', 'maxWorkers'], ['memory', 'shared'],
    ['input', 'offset'], ['input', 'shape', 0], ['input', 'shape', 1], ['input', 'shape', 2], ['outputs', 0, 'tensor', 'offset'], ['outputs', 0, 'shape', 0], ['outputs', 0, 'tensor', 'imageStride'], ['outputs', 0, 'phase'], ['outputs', 0, 'layout'], ['outputs', 0, 'name'],
    ['outputs', 0, 'tensor', 'layout'], ['outputs', 0, 'tensor', 'shape', 0],
    ['maxBatch'], ['weights', 'payloadBytes'], ['steps', 0, 'workItems'], ['steps', 8, 'workItems'], ['steps', 2, 'workGrain'], ['steps', 3, 'phase'], ['steps', 8, 'phase'],
    ['steps', 2, 'function'], ['wasm', 'file'], ['wasm', 'relaxed'], ['formatVersion'],
    ['weights', 'shards'], ['weights', 'shards', 0], ['weights', 'shards', 0, 'offset'], ['weights', 'shards', 1, 'offset'], ['weights', 'shards', 0, 'bytes'], ['weights', 'shards', 2, 'bytes'],
    ['weights', 'shards', 1, 'file'], ['weights', 'shards', 1, 'sha256'], ['weights', 'shards', 1, 'xxh64'], ['weights', 'shards', 3],
  ),
  edit,
});

function mutateFocused(base: Json, f: { path: readonly (string | number)[]; edit: Edit }): Json {
  const m = structuredClone(base) as Record<string, Json>;
  let parent: Record<string | number, Json> = m;
  for (const k of f.path.slice(0, -1)) {
    const next = parent[k];
    // An earlier edit replaced a container on the path (shards by a string…): nothing left to edit.
    if (typeof next !== 'object' || next === null) return m;
    parent = next as Record<string | number, Json>;
  }
  const key = f.path[f.path.length - 1];
  const old = parent[key];
  const e = f.edit;
  if (e.kind === 'delete') delete parent[key];
  else if (e.kind === 'perturb' && typeof old === 'number') parent[key] = perturb(old, e.op, e.amount);
  else if (e.kind === 'retype') parent[key] = typeof old === 'number' ? String(old) : [old];
  else parent[key] = structuredClone(e.value);
  return m;
}

const mutatedManifest = fc.oneof(
  fc.array(edit, { minLength: 1, maxLength: 3 }).map((es) => mutateManifest(manifest, es)),
  fc.array(focused, { minLength: 1, maxLength: 2 }).map((fs) => fs.reduce((m: Json, f) => mutateFocused(m, f), manifest)),
);

// ── full-folder mutations ────────────────────────────────────────────────────────────────────────

type FolderEdit =
  | { file: 'model.json'; kind: 'fields'; manifest: Json }
  | { file: 'model.json'; kind: 'text'; at: number; how: number; ch: string }
  | { file: 'shard' | 'model.wasm'; shard: number; kind: 'flip'; at: number; bit: number; header: boolean }
  | { file: 'shard' | 'model.wasm'; shard: number; kind: 'truncate'; at: number }
  | { file: 'shard'; shard: number; kind: 'pad' | 'remove'; at: number }
  | { file: 'shard'; shard: number; kind: 'swap'; with: number };

const damaged = fc.constantFrom('shard' as const, 'model.wasm' as const);

const folderEdit: fc.Arbitrary<FolderEdit> = fc.oneof(
  { weight: 3, arbitrary: mutatedManifest.map((m) => ({ file: 'model.json' as const, kind: 'fields' as const, manifest: m })) },
  { weight: 1, arbitrary: fc.record({ file: fc.constant('model.json' as const), kind: fc.constant('text' as const), at: fc.nat(), how: fc.integer({ min: 0, max: 2 }), ch: fc.constantFrom('"', ',', '}', '9', '-', ' ', '\0', 'é') }) },
  { weight: 2, arbitrary: fc.record({ file: damaged, shard: fc.nat(), kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }), header: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ file: damaged, shard: fc.nat(), kind: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ file: fc.constant('shard' as const), shard: fc.nat(), kind: fc.constantFrom('pad' as const, 'remove' as const), at: fc.integer({ min: 1, max: 100 }) }) },
  { weight: 1, arbitrary: fc.record({ file: fc.constant('shard' as const), shard: fc.nat(), kind: fc.constant('swap' as const), with: fc.nat() }) },
);

/** What the mutant folder holds now (null: removed), so that writeFolder rewrites only what changes. */
const onDisk = new Map<string, Buffer | null>();

/** Writes the damaged folder; says whether model.json is the compiled one and whether any shard differs. */
function writeFolder(d: string, edits: readonly FolderEdit[]): { manifestIntact: boolean; shardsDamaged: boolean } {
  let text = manifestText;
  let wasm: Buffer = Buffer.from(wasmBytes);
  const shards: (Buffer | null)[] = shardBytes.map((b) => Buffer.from(b));
  for (const e of edits) {
    if (e.file === 'model.json') {
      if (e.kind === 'fields') text = JSON.stringify(e.manifest);
      else {
        const i = e.at % (text.length + 1);
        text = e.how === 0 ? text.slice(0, i) : e.how === 1 ? text.slice(0, i) + e.ch + text.slice(i) : text.slice(0, i) + e.ch + text.slice(i + 1);
      }
      continue;
    }
    const k = e.shard % shards.length;
    if (e.kind === 'remove') shards[k] = null;
    else if (e.kind === 'swap') [shards[k], shards[e.with % shards.length]] = [shards[e.with % shards.length], shards[k]];
    else if (e.file === 'shard' && shards[k] === null) continue;
    else if (e.kind === 'pad') shards[k] = Buffer.concat([shards[k]!, Buffer.alloc(e.at)]);
    else {
      let b: Buffer = e.file === 'model.wasm' ? wasm : shards[k]!;
      if (e.kind === 'flip') {
        // The first 64 bytes or anywhere.
        const i = e.header ? e.at % Math.min(64, b.length) : e.at % b.length;
        if (b.length) b[i] ^= 1 << e.bit;
      } else b = b.subarray(0, e.at % (b.length + 1));
      if (e.file === 'model.wasm') wasm = b;
      else shards[k] = b;
    }
  }
  // Only the files that differ from what the previous case left on disk are written (writes are the slow part).
  const put = (name: string, bytes: Buffer | null): void => {
    const had = onDisk.get(name);
    if (had === bytes || (had && bytes && had.equals(bytes))) return;
    if (bytes === null) rmSync(join(d, name), { force: true });
    else writeFileSync(join(d, name), bytes);
    onDisk.set(name, bytes);
  };
  put('model.json', Buffer.from(text));
  put('model.wasm', wasm);
  shards.forEach((b, i) => put(shardFiles[i], b));
  return { manifestIntact: text === manifestText, shardsDamaged: shards.some((b, i) => b === null || !b.equals(shardBytes[i])) };
}

// ── tests ────────────────────────────────────────────────────────────────────────────────────────

describe('fuzz: model folders', () => {
  it('the unmutated model loads and infers', async () => {
    const m = await loadModel(dir, { threads: 1 });
    checkLogits(await m.infer(new Float32Array(37 * 45).fill(0.5)), 5);
    m.dispose();
  });

  it(`manifest mutations: checkManifest, then createInstance + infer when accepted (${MANIFEST_RUNS} cases)`, async () => {
    const file = join(dir, 'model.json');
    const payload = Buffer.concat(shardBytes);
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(mutatedManifest, async (raw) => {
        let m: Manifest;
        try {
          m = checkManifest(raw, file);
        } catch (e) {
          classify(e, 'load', (msg) => msg.startsWith(`${file}: `));
          return;
        }
        accepted++;
        let model;
        try {
          checkWasmMatchesManifest(module, m, join(dir, 'model.wasm'), file);
          const inst = await createInstance(m, module, 'deterministic', (mem) => new Uint8Array(mem.buffer, m.memory.weightsBase, payload.length).set(payload), dir);
          model = wrapInstance(inst, dir);
        } catch (e) {
          classify(e, 'load', (msg) => msg.startsWith(dir));
          return;
        }
        try {
          const [c, h, w] = model.inputShape;
          checkLogits(await model.infer(new Float32Array(c * h * w).fill(0.5)), model.numClasses);
        } catch (e) {
          classify(e, 'infer', (msg) => msg.startsWith('infer: ') || msg.startsWith(dir));
        } finally {
          model.dispose();
        }
      }),
      { numRuns: MANIFEST_RUNS, seed: 0x3a01 },
    );
    // The mutations are not all rejected at the first check.
    expect(accepted).toBeGreaterThan(MANIFEST_RUNS / 20);
  }, 90_000);

  it(`damaged folders through loadModel(dir, { threads: 1 }) + infer (${LOAD_RUNS} cases)`, async () => {
    const d = join(tmp, 'mutant');
    cpSync(dir, d, { recursive: true });
    onDisk.set('model.json', Buffer.from(manifestText)).set('model.wasm', wasmBytes);
    shardFiles.forEach((f, i) => onDisk.set(f, shardBytes[i]));
    let loaded = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(folderEdit, { minLength: 1, maxLength: 2 }), async (edits) => {
        const { manifestIntact, shardsDamaged } = writeFolder(d, edits);
        let model;
        try {
          model = await loadModel(d, { threads: 1, build: 'deterministic' });
        } catch (e) {
          classify(e, 'load', (msg) => msg.startsWith(d) || msg.startsWith('loadModel: '));
          return;
        }
        if (manifestIntact && shardsDamaged) {
          model.dispose();
          throw new Error('a folder with damaged weight shards loaded');
        }
        loaded++;
        try {
          const [c, h, w] = model.inputShape;
          checkLogits(await model.infer(new Float32Array(c * h * w).fill(0.5)), model.numClasses);
        } catch (e) {
          classify(e, 'infer', (msg) => msg.startsWith('infer: ') || msg.startsWith(d));
        } finally {
          model.dispose();
        }
      }),
      { numRuns: LOAD_RUNS, seed: 0x3a02 },
    );
    expect(loaded).toBeGreaterThan(0);
  }, 180_000);
});

describe('steps[].workGrain: a hint for sharing work between threads (model.json edited)', () => {
  it('0 or more than the step\'s work items is refused; absent (an older model folder) gives the same bits on 2 threads', async () => {
    const base = await compileGolden('small-rect', 'wasmsimd', join(tmp, 'grain'));
    const original = JSON.parse(readFileSync(join(base, 'model.json'), 'utf8'));
    const i = original.steps.findIndex((s: { workGrain: number }) => s.workGrain > 1);
    expect(i, 'small-rect has a Winograd step whose blocks have more than one channel group').toBeGreaterThanOrEqual(0);
    const attempt = (name: string, edit: (m: Record<string, any>) => void): Promise<string> => loadError(editedCopy(base, `grain-${name}`, JSON.stringify(original), edit));
    expect(await attempt('zero', (m) => (m.steps[i].workGrain = 0))).toMatch(new RegExp(`steps\\[${i}\\]\\.workGrain must be an integer ≥ 1, found 0$`));
    expect(await attempt('more', (m) => (m.steps[i].workGrain = m.steps[i].workItems + 1))).toMatch(new RegExp(`steps\\[${i}\\]\\.workGrain is \\d+, more than the step's \\d+ work items$`));
    const absent = editedCopy(base, 'grain-absent', JSON.stringify(original), (m) => m.steps.forEach((s: Record<string, unknown>) => delete s.workGrain));
    const input = new Float32Array(3 * 64 * 48).map((_, k) => Math.sin(k));
    const run = async (d: string, threads: number): Promise<Float32Array> => {
      const m = await loadModel(d, { threads, build: 'deterministic' });
      try {
        return await m.infer(input);
      } finally {
        m.dispose();
      }
    };
    const one = await run(base, 1);
    expect(one.some((v) => v !== 0)).toBe(true);
    for (const y of [await run(base, 2), await run(absent, 2)]) expect(new Uint32Array(y.buffer)).toEqual(new Uint32Array(one.buffer));
  });
});

/** A copy of model folder `from` whose model.json is `manifestJson` changed by `edit`. */
function editedCopy(from: string, name: string, manifestJson: string, edit: (m: Record<string, any>) => void): string {
  const d = join(tmp, name);
  cpSync(from, d, { recursive: true });
  const m = JSON.parse(manifestJson);
  edit(m);
  writeFileSync(join(d, 'model.json'), JSON.stringify(m));
  return d;
}

/** Loading `d` must fail with a one-line VggcError; returns its message. */
const loadError = (d: string): Promise<string> => rejection(loadModel(d, { threads: 1, build: 'deterministic' }).then((m) => m.dispose()));

describe('the load-time filter transforms of an int8 model (model.json edited)', () => {
  it('a prepare list removed, shortened or pointing elsewhere is refused: the Winograd filters would be left zero', async () => {
    const base = await compileGolden('small-rect', 'wasmsimd', join(tmp, 'int8'), { weightsDtype: 'int8' });
    const original = JSON.parse(readFileSync(join(base, 'model.json'), 'utf8'));
    expect(original.prepare.length).toBeGreaterThan(0);
    const attempt = (name: string, edit: (m: Record<string, any>) => void): Promise<string> => loadError(editedCopy(base, `int8-${name}`, JSON.stringify(original), edit));
    expect(await attempt('none', (m) => delete m.prepare)).toMatch(/its steps or memory layout differ/);
    expect(await attempt('fewer', (m) => m.prepare.pop())).toMatch(/its steps or memory layout differ/);
    expect(await attempt('items', (m) => (m.prepare[0].workItems = 0))).toMatch(/prepare\[0\]\.workItems must be an integer ≥ 1, found 0$/);
    expect(await attempt('missing', (m) => (m.prepare[0].function = 'layer01_nothing'))).toMatch(/model\.wasm has no function layer01_nothing that model\.json lists$|its steps or memory layout differ/);
    expect(await attempt('not-a-list', (m) => (m.prepare = 'all'))).toMatch(/prepare must be a list$/);
  });
});

describe('regressions found by this fuzzer (the gray-odd folder above, model.json edited)', () => {
  const edited = (name: string, edit: (m: Record<string, any>) => void): string => editedCopy(dir, `edited-${name}`, manifestText, edit);

  it('memory.pages or memory.shared disagreeing with model.wasm is a one-line VggcError', async () => {
    expect(await loadError(edited('pages', (m) => (m.memory.pages += 1)))).toMatch(/model\.json: its steps or memory layout differ from what .*model\.wasm was compiled for/);
    expect(await loadError(edited('shared', (m) => (m.memory.shared = false)))).toMatch(/model\.json: its steps or memory layout differ/);
  });
  it('an arena outside memory is refused by checkManifest', async () => {
    expect(await loadError(edited('arena', (m) => (m.memory.arenaBase = m.memory.pages * 65536)))).toMatch(/the activation arena .* lies outside the model's/);
  });
  it('a steps entry that is not an object is refused by checkManifest', async () => {
    expect(await loadError(edited('null-step', (m) => (m.steps[0] = null)))).toMatch(/steps\[0\] must be an object, found null$/);
  });
  it('an unaligned input.offset is refused by checkManifest', async () => {
    expect(await loadError(edited('unaligned', (m) => (m.input.offset += 1)))).toMatch(/input\.offset is \d+, not a multiple of 16$/);
  });
  it('workItems or the layout disagreeing with model.wasm is refused at load, not trapped or silently wrong in infer', async () => {
    expect(await loadError(edited('work', (m) => (m.steps[2].workItems += 1)))).toMatch(/its steps or memory layout differ/);
    expect(await loadError(edited('weights-base', (m) => (m.memory.weightsBase = 0)))).toMatch(/its steps or memory layout differ/);
    expect(await loadError(edited('batch', (m) => (m.maxBatch = 64)))).toMatch(/(its steps or memory layout differ|lies outside)/);
  });
});

describe('what predict, embed and serve read from model.json (found by a walkthrough: these crashed them or gave NaN)', () => {
  const edited = (name: string, edit: (m: Record<string, any>) => void): string => editedCopy(dir, `described-${name}`, manifestText, edit);
  const cases: [name: string, edit: (m: Record<string, any>) => void, message: RegExp][] = [
    ['no-preprocessing', (m) => (m.preprocessing = null), /preprocessing must be an object, found null$/],
    ['preprocessing-name', (m) => (m.preprocessing = 'bogus'), /preprocessing must be an object, found "bogus"$/],
    ['channels', (m) => (m.preprocessing.channels = 3), /preprocessing\.channels must be the input's 1 channels, found 3$/],
    ['std-zero', (m) => (m.preprocessing.std = [0]), /preprocessing\.std must not hold 0/],
    ['mean-short', (m) => (m.preprocessing.mean = []), /preprocessing\.mean must be 1 finite numbers, found \[\]$/],
    ['resize', (m) => (m.preprocessing.resize = { shorterSide: 0 }), /preprocessing\.resize must be \{ "shorterSide": N \} or \{ "fit": \[height, width\] \}/],
    ['order', (m) => (m.preprocessing.channelOrder = 'grb'), /preprocessing\.channelOrder must be "rgb" or "bgr", found "grb"$/],
    ['range', (m) => (m.preprocessing.pixelRange = [0, 128]), /preprocessing\.pixelRange must be \[0, 1\] or \[0, 255\], found \[0,128\]$/],
    ['no-config', (m) => delete m.config, /config must be an object, found undefined$/],
    ['input-size', (m) => (m.config.inputSize = [8, 8]), /config\.inputSize \[8,8\] is not the input's \d+×\d+$/],
    ['labels-numbers', (m) => (m.labels = Array.from({ length: m.config.numClasses }, (_, i) => i)), /labels\[0\] must be a string, found 0$/],
    ['labels-short', (m) => (m.labels = ['a']), /labels must be null or a list of \d+ names \(config\.numClasses\), found 1 entries$/],
    ['labels-string', (m) => (m.labels = 'abc'), /labels must be null or a list of \d+ names \(config\.numClasses\), found "abc"$/],
  ];
  for (const [name, edit, message] of cases) {
    it(`${name}: refused at load, naming model.json and the field`, async () => {
      const msg = await loadError(edited(name, edit));
      expect(msg).toMatch(/model\.json: /);
      expect(msg).toMatch(message);
    });
  }
});
