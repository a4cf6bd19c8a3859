/**
 * loadModelFromBytes (runtime/load/bytes.ts), the loader for Workers: the same bits as loadModel from
 * the folder, whether it gets a compiled module or the wasm bytes, and the folder loader's one-line
 * refusals for weights that are truncated or from another compile. small-rect's payload is one shard
 * at the default shard size (weights-000.bin); a copy compiled with 8 KiB shards is passed shard by shard.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelFromBytes } from '../runtime/workers.js';
import { loadModel } from '../runtime/index.js';
import { compileModel } from '../compiler/pipeline.js';
import { supportsRelaxedSimd } from '../runtime/load/build.js';
import { readNpy } from '../runtime/npy.js';
import { compileGolden, expectParity, GOLDEN, rejection, tempDir } from './helpers.js';

const work = tempDir();
const x = readNpy(join(GOLDEN, 'small-rect/input.npy'));
const ref = readNpy(join(GOLDEN, 'small-rect/logits.npy'));

describe('loadModelFromBytes', () => {
  let dir: string;
  let other: string;
  let expected: Float32Array;
  beforeAll(async () => {
    dir = await compileGolden('small-rect', 'wasmsimd', work);
    // The same network with seeded random weights: another compile.
    other = join(work, 'seeded');
    await compileModel({ configPath: join(GOLDEN, 'small-rect/config.json'), outDir: other });
    const m = await loadModel(dir, { threads: 1 });
    expected = await m.infer(x.data, 2);
    m.dispose();
  });
  const file = (d: string, f: string) => readFileSync(join(d, f));
  const manifest = (d: string) => JSON.parse(file(d, 'model.json').toString('utf8'));

  it('runs the deterministic build on one thread with the folder loader\'s bits, from a module or from bytes', async () => {
    for (const wasm of [await WebAssembly.compile(file(dir, 'model.wasm')), file(dir, 'model.wasm')]) {
      const m = await loadModelFromBytes({ manifest: manifest(dir), wasm, weights: file(dir, 'weights-000.bin') });
      expect([m.build, m.threads]).toEqual(['deterministic', 1]);
      const y = await m.infer(x.data, 2);
      expect(Buffer.from(y.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
      expectParity(y, ref.data, 10);
      m.dispose();
      expect(await rejection(m.infer(x.data, 2))).toBe('model: infer() called after dispose()');
    }
  });

  it('takes model.json as text and names the build its wasm holds', async () => {
    const text = file(dir, 'model.json').toString('utf8');
    if (supportsRelaxedSimd()) {
      const m = await loadModelFromBytes({ manifest: text, wasm: file(dir, 'model-relaxed.wasm'), weights: file(dir, 'weights-000.bin') }, { label: 'small' });
      expect(m.build).toBe('relaxed');
      expectParity(await m.infer(x.data, 2), ref.data, 10);
    } else {
      expect(await rejection(loadModelFromBytes({ manifest: text, wasm: file(dir, 'model-relaxed.wasm'), weights: file(dir, 'weights-000.bin') }, { label: 'small' }))).toMatch(/^small\/model\.wasm: cannot be compiled here \(.*\); pass a compiled WebAssembly\.Module where run-time compilation is not allowed$/);
    }
    expect(await rejection(loadModelFromBytes({ manifest: '{', wasm: file(dir, 'model.wasm'), weights: file(dir, 'weights-000.bin') }, { label: 'small' }))).toMatch(/^small\/model\.json: invalid JSON/);
  });

  it('refuses truncated weights and weights or wasm from another compile, in one line', async () => {
    const weights = file(dir, 'weights-000.bin');
    expect(await rejection(loadModelFromBytes({ manifest: manifest(dir), wasm: file(dir, 'model.wasm'), weights: weights.subarray(0, weights.length - 4) }))).toBe(
      `model: the weights are ${weights.length - 4} bytes, model/model.json expects ${weights.length} (truncated or padded)`,
    );
    expect(await rejection(loadModelFromBytes({ manifest: manifest(dir), wasm: file(dir, 'model.wasm'), weights: file(other, 'weights-000.bin') }))).toBe(
      'model/weights-000.bin: does not match the SHA-256 that model/model.json records (damaged, or from another compile); nothing was loaded',
    );
    expect(await rejection(loadModelFromBytes({ manifest: manifest(dir), wasm: file(other, 'model.wasm'), weights: file(dir, 'weights-000.bin') }))).toMatch(/^model\/model\.wasm: was compiled for other weights than model\/model\.json describes/);
  });

  it('takes one buffer per shard, or the shards concatenated, and checks each shard', async () => {
    const sharded = join(work, 'sharded');
    await compileGolden('small-rect', 'wasmsimd', sharded, { shardBytes: 8192 });
    const d = join(sharded, 'small-rect-wasmsimd');
    const m = manifest(d);
    const parts = m.weights.shards.map((s: { file: string }) => file(d, s.file));
    expect(parts.length).toBe(12);
    for (const weights of [parts, Buffer.concat(parts)]) {
      const model = await loadModelFromBytes({ manifest: m, wasm: file(d, 'model.wasm'), weights });
      expect(Buffer.from((await model.infer(x.data, 2)).buffer).equals(Buffer.from(expected.buffer))).toBe(true);
      model.dispose();
    }
    const damaged = parts.map((p: Buffer) => Buffer.from(p));
    damaged[5][100] ^= 1;
    expect(await rejection(loadModelFromBytes({ manifest: m, wasm: file(d, 'model.wasm'), weights: damaged }))).toBe(
      'model/weights-005.bin: does not match the SHA-256 that model/model.json records (damaged, or from another compile); nothing was loaded',
    );
    // verify: false skips the check (the damaged weights load); anything but true, false or 'sha256' is refused.
    const unchecked = await loadModelFromBytes({ manifest: m, wasm: file(d, 'model.wasm'), weights: damaged }, { verify: false });
    unchecked.dispose();
    expect(await rejection(loadModelFromBytes({ manifest: m, wasm: file(d, 'model.wasm'), weights: damaged }, { verify: 'sha256' }))).toMatch(/weights-005\.bin: does not match the SHA-256/);
    expect(await rejection(loadModelFromBytes({ manifest: m, wasm: file(d, 'model.wasm'), weights: parts }, { verify: 1 as unknown as boolean }))).toBe('loadModel: verify must be true, false or "sha256", found 1');
    expect(await rejection(loadModelFromBytes({ manifest: m, wasm: file(d, 'model.wasm'), weights: parts.slice(1) }))).toBe('model: got 11 weight buffers, model/model.json lists 12 shards');
    expect(await rejection(loadModelFromBytes({ manifest: m, wasm: file(d, 'model.wasm'), weights: [...parts.slice(0, 11), parts[11].subarray(1)] }))).toBe('model/weights-011.bin: is 3455 bytes, expected 3456 (truncated)');
  });
});
