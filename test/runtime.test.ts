// The runtime: infer() argument checks, queued concurrent calls, dispose, the package entry point,
// and model folders that are damaged or mixed from different compiles (each must be a one-line
// VggcError naming the file, raised before anything runs).
import { copyFileSync, cpSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileModel } from '../compiler/pipeline.js';
import { loadModel, VggcError, type VggcModel } from '../runtime/index.js';
import { readNpy } from '../runtime/npy.js';
import { profileLayers } from '../runtime/profile-node.js';
import { compileGolden, expectParity, GOLDEN, tempDir, rejection } from './helpers.js';

const tmp = tempDir('vggc-runtime-');
let dir: string;

beforeAll(async () => {
  dir = await compileGolden('small-rect', 'wasmsimd', tmp);
});

/** Writes `bytes` as model.wasm and records their SHA-256 in model.json, as a consistent forgery would. */
function replaceWasm(d: string, bytes: Buffer): void {
  writeFileSync(join(d, 'model.wasm'), bytes);
  const m = JSON.parse(readFileSync(join(d, 'model.json'), 'utf8'));
  m.wasm.sha256 = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(d, 'model.json'), JSON.stringify(m));
}

/** A copy of the compiled small-rect folder to damage. */
function copyModel(name: string): string {
  const d = join(tmp, name);
  cpSync(dir, d, { recursive: true });
  return d;
}

describe('infer', () => {
  let model: VggcModel;
  const input = readNpy(join(GOLDEN, 'small-rect/input.npy'));
  const imageFloats = 3 * 64 * 48;

  beforeAll(async () => {
    model = await loadModel(dir);
  });

  it('knows its shapes and matches the golden', async () => {
    expect(model.inputShape).toEqual([3, 64, 48]);
    expect(model.numClasses).toBe(10);
    const y = await model.infer(input.data, 2);
    expect(y).toBeInstanceOf(Float32Array);
    expect(y.length).toBe(20);
    expectParity(y, readNpy(join(GOLDEN, 'small-rect/logits.npy')).data, 10);
  });

  it('rejects an input of the wrong length, naming both numbers', async () => {
    const msg = await rejection(model.infer(new Float32Array(imageFloats - 1)));
    expect(msg).toBe(`infer: input has ${imageFloats - 1} floats but 1 image(s) of 3×64×48 need ${imageFloats}`);
    expect(await rejection(model.infer(input.data, 3))).toBe(`infer: input has ${2 * imageFloats} floats but 3 image(s) of 3×64×48 need ${3 * imageFloats}`);
  });

  it('rejects an input that is not a Float32Array', async () => {
    expect(await rejection(model.infer(new Float64Array(imageFloats) as unknown as Float32Array))).toBe('infer: input must be a Float32Array, found Float64Array');
    expect(await rejection(model.infer(Array.from({ length: imageFloats }, () => 0) as unknown as Float32Array))).toBe('infer: input must be a Float32Array, found Array');
    expect(await rejection(model.infer(null as unknown as Float32Array))).toBe('infer: input must be a Float32Array, found null');
  });

  it('rejects n = 0, n = 1.5, n = -1 and n = NaN', async () => {
    for (const n of [0, 1.5, -1, Number.NaN]) {
      expect(await rejection(model.infer(new Float32Array(imageFloats), n))).toBe(`infer: n must be a positive integer, found ${String(n)}`);
    }
  });

  it('a rejected call does not poison the queue', async () => {
    const bad = model.infer(new Float32Array(3));
    const good = model.infer(input.data.subarray(0, imageFloats));
    await expect(bad).rejects.toBeInstanceOf(VggcError);
    expect((await good).length).toBe(10);
  });

  it('50 concurrent calls on different inputs each return exactly what that input gives alone', async () => {
    const first = input.data.subarray(0, imageFloats);
    const inputs = Array.from({ length: 50 }, (_, k) => first.map((v) => v * (1 + k / 10) - k / 100));
    const alone: Float32Array[] = [];
    for (const x of inputs) alone.push(await model.infer(x));
    // Different inputs really give different logits, so a mix-up would show.
    expect(new Set(alone.map((y) => Array.from(y).join(','))).size).toBe(50);
    const together = await Promise.all(inputs.map((x) => model.infer(x)));
    together.forEach((y, k) => {
      expect(Array.from(y), `call ${k}`).toEqual(Array.from(alone[k]));
      expect(Buffer.from(y.buffer, y.byteOffset, y.byteLength).equals(Buffer.from(alone[k].buffer, alone[k].byteOffset, alone[k].byteLength)), `call ${k}`).toBe(true);
    });
    // Batches in flight at the same time as single images.
    const [batch, single] = await Promise.all([model.infer(input.data, 2), model.infer(inputs[7])]);
    expect(Array.from(batch.subarray(0, 10))).toEqual(Array.from(alone[0])); // inputs[0] equals the first image
    expect(Array.from(single)).toEqual(Array.from(alone[7]));
  });

  it('infer() uses the input as it was when called, even if the caller overwrites the buffer before the promise settles', async () => {
    const model = await loadModel(dir);
    const x = input.data.slice(0, imageFloats);
    const expected = await model.infer(x.slice());
    const busy = model.infer(new Float32Array(imageFloats)); // keeps the queue occupied
    const pending = model.infer(x);
    x.fill(0);
    await busy;
    expect(Array.from(await pending)).toEqual(Array.from(expected));
  });

  it('loadModel and profileLayers refuse more threads than the model was planned for, and a bad count', async () => {
    // One check (resolveThreads) for every loader: the profiler used to start any pool it was asked for.
    expect(await rejection(loadModel(dir, { threads: 5 }))).toBe(`loadModel: threads is 5 but ${dir} was compiled for at most 4`);
    expect(await rejection(profileLayers(dir, { threads: 5, runs: 1 }))).toBe(`loadModel: threads is 5 but ${dir} was compiled for at most 4`);
    expect(await rejection(profileLayers(dir, { threads: 0, runs: 1 }))).toBe('loadModel: threads must be a positive integer, found 0');
    // From JavaScript, a string: shown as one, not as the number it looks like.
    expect(await rejection(loadModel(dir, { threads: '2' as unknown as number }))).toBe('loadModel: threads must be a positive integer, found "2"');
  });

  it('infer after dispose rejects', async () => {
    const m = await loadModel(dir);
    await m.infer(new Float32Array(imageFloats));
    m.dispose();
    expect(await rejection(m.infer(new Float32Array(imageFloats)))).toBe(`${dir}: infer() called after dispose()`);
  });

  it('dispose() of a 2-thread model returns a promise that resolves, also when called twice; infer then rejects', async () => {
    const m = await loadModel(dir, { threads: 2 });
    await m.infer(new Float32Array(imageFloats));
    // (That it waits for the helpers' exit is WorkerPool.terminate()'s, which it returns; not observed here.)
    await expect(m.dispose()).resolves.toBeUndefined();
    await expect(m.dispose()).resolves.toBeUndefined();
    expect(await rejection(m.infer(new Float32Array(imageFloats)))).toBe(`${dir}: infer() called after dispose()`);
  });
});

describe("the package entry point 'vggc'", () => {
  it('exports loadModel (from dist/runtime/index.js), which loads and runs a model', async () => {
    const pkg = (await import('vggc')) as typeof import('../runtime/index.js');
    expect(typeof pkg.loadModel).toBe('function');
    const m = await pkg.loadModel(dir);
    expect(m.inputShape).toEqual([3, 64, 48]);
    const y = await m.infer(readNpy(join(GOLDEN, 'small-rect/input.npy')).data, 2);
    expectParity(y, readNpy(join(GOLDEN, 'small-rect/logits.npy')).data, 10);
    m.dispose();
  });
});

describe('damaged or mismatched model folders', () => {
  /** Another compile of the same config, with seeded random weights. */
  let seeded: string;

  beforeAll(async () => {
    seeded = join(tmp, 'seed-5');
    await compileModel({ configPath: join(GOLDEN, 'small-rect/config.json'), outDir: seeded, seed: 5 });
  });

  it('missing model.json', async () => {
    const d = copyModel('no-manifest');
    rmSync(join(d, 'model.json'));
    expect(await rejection(loadModel(d))).toBe(`${d}/model.json: cannot read (ENOENT); is this a folder written by vggc compile?`);
  });

  // small-rect's 228 KB payload is one shard at the default 16 MiB (test/shards.test.ts: many shards).
  const SHARD = 'weights-000.bin';

  it('missing weight shard', async () => {
    const d = copyModel('no-weights');
    rmSync(join(d, SHARD));
    expect(await rejection(loadModel(d))).toBe(`${d}/${SHARD}: cannot open (ENOENT); model.json lists it as a weights shard`);
  });

  it('truncated weight shard', async () => {
    const d = copyModel('truncated');
    const size = readFileSync(join(d, SHARD)).length;
    truncateSync(join(d, SHARD), size - 100);
    expect(await rejection(loadModel(d))).toBe(`${d}/${SHARD}: is ${size - 100} bytes, expected ${size} (truncated)`);
  });

  it('weight shard with 64 bytes overwritten in the middle', async () => {
    const d = copyModel('corrupted');
    const bytes = readFileSync(join(d, SHARD));
    bytes.fill(0x7f, bytes.length >> 1, (bytes.length >> 1) + 64);
    writeFileSync(join(d, SHARD), bytes);
    expect(await rejection(loadModel(d))).toBe(`${d}/${SHARD}: does not match the XXH64 that ${d}/model.json records (damaged, or from another compile); nothing was loaded`);
  });

  it('weight shard from a compile with another seed', async () => {
    const d = copyModel('other-weights');
    copyFileSync(join(seeded, SHARD), join(d, SHARD));
    expect(await rejection(loadModel(d))).toBe(`${d}/${SHARD}: does not match the XXH64 that ${d}/model.json records (damaged, or from another compile); nothing was loaded`);
  });

  it('model.wasm whose bytes do not match the hash in model.json', async () => {
    const d = copyModel('swapped-wasm');
    copyFileSync(join(seeded, 'model.wasm'), join(d, 'model.wasm'));
    expect(await rejection(loadModel(d))).toBe(`${d}/model.wasm: does not match the SHA-256 that ${d}/model.json records (damaged, or from another compile)`);
  });

  // The cases below also rewrite model.json's wasm.sha256, to reach the checks behind the hash.
  it('model.wasm from another compile', async () => {
    const d = copyModel('other-wasm');
    replaceWasm(d, readFileSync(join(seeded, 'model.wasm')));
    expect(await rejection(loadModel(d))).toBe(
      `${d}/model.wasm: was compiled for other weights than ${d}/model.json describes (model.wasm and model.json come from different compiles)`,
    );
  });

  it('model.wasm of the other kernel variant (the same weights since f32 keeps 3×3 filters, other steps)', async () => {
    const ref = await compileGolden('small-rect', 'scalar-ref', tmp);
    const d = copyModel('other-kernels');
    replaceWasm(d, readFileSync(join(ref, 'model.wasm')));
    const msg = await rejection(loadModel(d));
    expect(msg).toBe(`${d}/model.json: its steps or memory layout differ from what ${d}/model.wasm was compiled for (edited by hand, or from another compile)`);
  });

  it('a manifest whose step names do not exist in model.wasm', async () => {
    const d = copyModel('renamed-step');
    const manifest = JSON.parse(readFileSync(join(d, 'model.json'), 'utf8'));
    manifest.steps[1].function = 'layer01_not_there';
    writeFileSync(join(d, 'model.json'), JSON.stringify(manifest));
    expect(await rejection(loadModel(d))).toBe(`${d}/model.json: its steps or memory layout differ from what ${d}/model.wasm was compiled for (edited by hand, or from another compile)`);
  });

  it('model.wasm replaced with junk bytes', async () => {
    const d = copyModel('junk-wasm');
    replaceWasm(d, Buffer.from('this is not webassembly at all'));
    const msg = await rejection(loadModel(d));
    expect(msg.startsWith(`${d}/model.wasm: not a valid WebAssembly module (`)).toBe(true);
  });

  it('model.wasm that is valid WebAssembly but not a vggc model', async () => {
    const d = copyModel('foreign-wasm');
    replaceWasm(d, Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]));
    expect(await rejection(loadModel(d))).toBe(`${d}/model.wasm: not a vggc model (no "vggc" section)`);
  });

  it('model.json edited so input.offset points beyond memory is refused before running', async () => {
    const d = copyModel('bad-offset');
    const m = JSON.parse(readFileSync(join(d, 'model.json'), 'utf8'));
    const limit = m.memory.pages * 65536;
    m.input.offset = limit - 16;
    writeFileSync(join(d, 'model.json'), JSON.stringify(m));
    const end = limit - 16 + 3 * 64 * 48 * 4;
    expect(await rejection(loadModel(d))).toBe(`${d}/model.json: the input (bytes ${limit - 16}–${end}) lies outside the model's ${limit}-byte memory`);
  });

  it('model.json with another manifest format version', async () => {
    const d = copyModel('bad-version');
    const m = JSON.parse(readFileSync(join(d, 'model.json'), 'utf8'));
    m.formatVersion = 99;
    writeFileSync(join(d, 'model.json'), JSON.stringify(m));
    expect(await rejection(loadModel(d))).toBe(`${d}/model.json: manifest version 99 is not supported by this runtime (expected 4); recompile the model`);
  });

  it('model.json that is not JSON', async () => {
    const d = copyModel('bad-json');
    writeFileSync(join(d, 'model.json'), '{"format": "vggc-model",');
    const msg = await rejection(loadModel(d));
    expect(msg.startsWith(`${d}/model.json: invalid JSON (`)).toBe(true);
  });

  it('model.json naming a weights file outside the folder', async () => {
    const d = copyModel('escape');
    const m = JSON.parse(readFileSync(join(d, 'model.json'), 'utf8'));
    m.weights.shards[0].file = '../seed-5/weights-000.bin';
    writeFileSync(join(d, 'model.json'), JSON.stringify(m));
    expect(await rejection(loadModel(d))).toBe(`${d}/model.json: weights.shards[0].file "../seed-5/weights-000.bin" must be a plain name inside the model folder`);
  });

  it('the undamaged folders still load', async () => {
    for (const d of [dir, seeded]) (await loadModel(d)).dispose();
  });
});

function esc(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
