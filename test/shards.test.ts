// Weight shards (issue 15) in Node: a model compiled with 4 KiB shards (23 of them), with one unsharded
// weights.bin and with the default 16 MiB shards loads to the same logits, which match PyTorch's
// (the small-rect golden); every way a shard can be wrong is a one-line error naming it, raised
// before anything runs; progress is monotonic and ends at the payload size.
import { cpSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../runtime/index.js';
import type { LoadProgress } from '../runtime/format/progress.js';
import { readNpy } from '../runtime/npy.js';
import { compileGolden, expectParity, GOLDEN, rejection, tempDir } from './helpers.js';

const tmp = tempDir('vggc-shards-');
const x = readNpy(join(GOLDEN, 'small-rect/input.npy'));
const ref = readNpy(join(GOLDEN, 'small-rect/logits.npy'));
let sharded: string;
let whole: string;
let byDefault: string;

beforeAll(async () => {
  sharded = await compileGolden('small-rect', 'wasmsimd', join(tmp, 'sharded'), { shardBytes: 4096 });
  whole = await compileGolden('small-rect', 'wasmsimd', join(tmp, 'whole'), { shardBytes: 0 });
  byDefault = await compileGolden('small-rect', 'wasmsimd', join(tmp, 'default'));
});

const manifestOf = (d: string) => JSON.parse(readFileSync(join(d, 'model.json'), 'utf8'));

let copies = 0;
function copy(d: string): string {
  const to = join(tmp, `copy-${copies++}`);
  cpSync(d, to, { recursive: true });
  return to;
}

describe('shards', () => {
  it('tile the payload in order, and every layout loads to the same logits, matching PyTorch', async () => {
    const shards = manifestOf(sharded).weights.shards;
    expect(shards.length).toBe(23);
    expect(shards.map((s: { file: string }) => s.file).slice(0, 2)).toEqual(['weights-000.bin', 'weights-001.bin']);
    expect(manifestOf(whole).weights.shards.map((s: { file: string }) => s.file)).toEqual(['weights.bin']);
    expect(manifestOf(byDefault).weights.shards.map((s: { file: string }) => s.file)).toEqual(['weights-000.bin']);
    // The payload is the same bytes however it is cut: the same weights hash, the same wasm.
    expect(new Set([sharded, whole, byDefault].map((d) => manifestOf(d).weights.sha256)).size).toBe(1);
    const outputs: Buffer[] = [];
    for (const d of [sharded, whole, byDefault]) {
      const m = await loadModel(d, { threads: 1 });
      const y = await m.infer(x.data, 2);
      expectParity(y, ref.data, 10);
      outputs.push(Buffer.from(y.buffer));
      m.dispose();
    }
    expect(outputs[0].equals(outputs[1]) && outputs[0].equals(outputs[2])).toBe(true);
  });

  it('reports progress shard by shard, monotonic, ending at the payload size', async () => {
    const seen: LoadProgress[] = [];
    const m = await loadModel(sharded, { threads: 1, onProgress: (p) => seen.push(p) });
    m.dispose();
    const total = manifestOf(sharded).weights.payloadBytes;
    expect(seen.length).toBe(23);
    expect(seen.every((p, i) => p.totalBytes === total && p.cachedBytes === 0 && (i === 0 || p.loadedBytes > seen[i - 1].loadedBytes))).toBe(true);
    expect(seen.at(-1)!.loadedBytes).toBe(total);
  });

  it('a corrupted shard fails the load naming it; verify: false loads it anyway', async () => {
    const d = copy(sharded);
    const file = join(d, 'weights-013.bin');
    const bytes = readFileSync(file);
    bytes.fill(0x7f, 2000, 2064); // 64 bytes in the middle, as in the issue
    writeFileSync(file, bytes);
    expect(await rejection(loadModel(d, { threads: 1 }))).toBe(`${file}: does not match the XXH64 that ${d}/model.json records (damaged, or from another compile); nothing was loaded`);
    // Unchecked, the damaged weights run: the check is what stands between them and the caller.
    const m = await loadModel(d, { threads: 1, verify: false });
    const y = await m.infer(x.data, 2);
    m.dispose();
    expect(() => expectParity(y, ref.data, 10)).toThrow();
    expect(await rejection(loadModel(d, { threads: 1, verify: 'no' as unknown as boolean }))).toBe('loadModel: verify must be true, false or "sha256", found "no"');
  });

  it('verify: "sha256" checks SHA-256, not XXH64: a wrong XXH64 in model.json still loads, a damaged shard fails naming SHA-256', async () => {
    const d = copy(sharded);
    const m = manifestOf(d);
    m.weights.shards[7].xxh64 = '0123456789abcdef';
    writeFileSync(join(d, 'model.json'), JSON.stringify(m));
    expect(await rejection(loadModel(d, { threads: 1 }))).toBe(`${join(d, 'weights-007.bin')}: does not match the XXH64 that ${d}/model.json records (damaged, or from another compile); nothing was loaded`);
    const model = await loadModel(d, { threads: 1, verify: 'sha256' });
    expectParity(await model.infer(x.data, 2), ref.data, 10);
    model.dispose();
    const file = join(d, 'weights-011.bin');
    const bytes = readFileSync(file);
    bytes[100] ^= 0x01;
    writeFileSync(file, bytes);
    expect(await rejection(loadModel(d, { threads: 1, verify: 'sha256' }))).toBe(`${file}: does not match the SHA-256 that ${d}/model.json records (damaged, or from another compile); nothing was loaded`);
  });

  it('a single flipped bit in the last shard fails, with threads too', async () => {
    const d = copy(sharded);
    const file = join(d, 'weights-022.bin');
    const bytes = readFileSync(file);
    bytes[bytes.length - 1] ^= 0x10;
    writeFileSync(file, bytes);
    expect(await rejection(loadModel(d, { threads: 2 }))).toBe(`${file}: does not match the XXH64 that ${d}/model.json records (damaged, or from another compile); nothing was loaded`);
  });

  it('a truncated, padded or missing shard is named before anything is read', async () => {
    const d = copy(sharded);
    truncateSync(join(d, 'weights-004.bin'), 4000);
    expect(await rejection(loadModel(d))).toBe(`${d}/weights-004.bin: is 4000 bytes, expected 4096 (truncated)`);
    writeFileSync(join(d, 'weights-004.bin'), Buffer.concat([readFileSync(join(sharded, 'weights-004.bin')), Buffer.alloc(1)]));
    expect(await rejection(loadModel(d))).toBe(`${d}/weights-004.bin: is 4097 bytes, expected 4096 (padded)`);
    cpSync(join(sharded, 'weights-004.bin'), join(d, 'weights-004.bin'));
    rmSync(join(d, 'weights-020.bin'));
    expect(await rejection(loadModel(d))).toBe(`${d}/weights-020.bin: cannot open (ENOENT); model.json lists it as a weights shard`);
  });

  it('two shards swapped (each intact) fail: the check is per position', async () => {
    const d = copy(sharded);
    cpSync(join(sharded, 'weights-002.bin'), join(d, 'weights-001.bin'));
    cpSync(join(sharded, 'weights-001.bin'), join(d, 'weights-002.bin'));
    expect(await rejection(loadModel(d, { threads: 1 }))).toMatch(/weights-001\.bin: does not match the XXH64/);
  });

  describe('manifest entries that do not tile the payload', () => {
    const edited = async (edit: (m: any) => void): Promise<string> => {
      const d = copy(sharded);
      const m = manifestOf(d);
      edit(m);
      writeFileSync(join(d, 'model.json'), JSON.stringify(m));
      return rejection(loadModel(d, { threads: 1 })).then((msg) => msg.replace(`${d}/model.json: `, ''));
    };

    it('each gives its one line', async () => {
      expect(await edited((m) => (m.weights.shards[22].bytes = 9000))).toBe(`weights.shards[22] (weights-022.bin, payload bytes 90112–99112) lies outside the 93568-byte payload`);
      expect(await edited((m) => (m.weights.shards[3].offset += 64))).toBe('weights.shards[3] (weights-003.bin) starts at payload byte 12352, expected 12288 (the shards must follow each other without gaps or overlaps)');
      expect(await edited((m) => m.weights.shards.pop())).toBe('weights.shards end at payload byte 90112, but the payload is 93568 bytes');
      expect(await edited((m) => (m.weights.shards = []))).toBe('weights.shards is empty but the payload is 93568 bytes');
      expect(await edited((m) => delete m.weights.shards)).toBe('weights.shards must be a list (a manifest older than format 3? recompile the model)');
      expect(await edited((m) => (m.weights.shards[1].file = 'weights-000.bin'))).toBe('weights.shards[1].file "weights-000.bin" is used twice');
      expect(await edited((m) => (m.weights.shards[1].file = 'model.wasm'))).toBe('weights.shards[1].file "model.wasm" is used twice');
      expect(await edited((m) => (m.weights.shards[2].sha256 = 'abc'))).toBe('weights.shards[2].sha256 must be 64 hex digits');
      expect(await edited((m) => (m.weights.shards[2].xxh64 = 12))).toBe('weights.shards[2].xxh64 must be 16 hex digits');
      expect(await edited((m) => (m.weights.shards[0].bytes = 0))).toBe('weights.shards[0].bytes must be an integer ≥ 1, found 0');
    });
  });
});
