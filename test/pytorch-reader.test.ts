/**
 * The PyTorch reader on hand-made files torch would not write: zip64 extra fields, plain zips,
 * damaged and hostile pickles, inconsistent storages, legacy-format damage; and derive.ts's
 * refusals for state_dicts that are not a VGG it can describe. (test/pytorch-checkpoint.test.ts
 * covers the files torch itself writes.)
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTorchFile } from '../compiler/frontend/pytorch/checkpoint.js';
import { deriveNetwork } from '../compiler/frontend/pytorch/derive.js';
import type { StoredTensor } from '../compiler/frontend/imported.js';
import { errorOf, tempDir } from './helpers.js';
import { bytes, f32Bytes, op, stateDictPickle, u32, writeZip, type HandTensor } from './pytorch/hand-made.js';

const dir = tempDir('vggc-pth-hand-');
let n = 0;
function file(data: Uint8Array): string {
  const p = join(dir, `f${n++}.pth`);
  fs.writeFileSync(p, data);
  return p;
}

const W: HandTensor = { key: 'w', shape: [2, 3], storage: '0', storageNumel: 6 };
const B: HandTensor = { key: 'b', shape: [2], storage: '1', storageNumel: 2 };
const wValues = [1, 2, 3, 4, 5, 6];
const bValues = [-1.5, 0.25];
function archive(pickle: Uint8Array, storages: Record<string, Uint8Array> = { '0': f32Bytes(wValues), '1': f32Bytes(bValues) }, opts = {}): string {
  return file(writeZip([{ name: 'm/data.pkl', data: pickle }, ...Object.entries(storages).map(([k, data]) => ({ name: `m/data/${k}`, data })), { name: 'm/version', data: bytes(0x33, 0x0a) }], opts));
}
const read = (path: string, key: string): number[] => {
  const f = readTorchFile(path);
  try {
    const t = f.tensors.get(key)!;
    return Array.from(t.read(0, t.shape.reduce((a, b) => a * b, 1)));
  } finally {
    f.close();
  }
};

describe('zip variants', () => {
  it.each([
    ['zip64 end records (as torch writes)', {}],
    ['zip64 extra fields in every central entry', { zip64Entries: true }],
    ['no zip64 records at all', { noZip64End: true }],
  ])('%s', (_what, opts) => {
    const p = archive(stateDictPickle([W, B]), undefined, opts);
    expect(read(p, 'w')).toEqual(wValues);
    expect(read(p, 'b')).toEqual(bValues);
  });

  it('views: offset and permuted strides give logical row-major values', () => {
    const storage = f32Bytes([9, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const T: HandTensor = { key: 't', shape: [3, 4], stride: [1, 3], offset: 2, storage: '0', storageNumel: 14 };
    const p = archive(stateDictPickle([T]), { '0': storage });
    // element (i, j) is storage[2 + i + 3j]
    expect(read(p, 't')).toEqual([0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11]);
    const f = readTorchFile(p);
    expect(Array.from(f.tensors.get('t')!.read(5, 4))).toEqual([4, 7, 10, 2]);
    f.close();
  });

  it('a storage member of the wrong size, a missing one, no data.pkl, two of them', () => {
    expect(errorOf(() => readTorchFile(archive(stateDictPickle([W]), { '0': f32Bytes([1, 2, 3]) })))).toMatch(/: zip entry "m\/data\/0": holds 12 bytes but data\.pkl declares 6 × float32 = 24 bytes$/);
    expect(errorOf(() => readTorchFile(archive(stateDictPickle([W, B]), { '0': f32Bytes(wValues) })))).toMatch(/: zip archive has no member "m\/data\/1" for storage "1"$/);
    expect(errorOf(() => readTorchFile(file(writeZip([{ name: 'a/version', data: bytes(0x33) }]))))).toMatch(/: zip archive has no data\.pkl: not a torch\.save checkpoint$/);
    const two = writeZip([{ name: 'a/data.pkl', data: stateDictPickle([]) }, { name: 'b/data.pkl', data: stateDictPickle([]) }]);
    expect(errorOf(() => readTorchFile(file(two)))).toMatch(/: zip archive has 2 data\.pkl members/);
  });

  it("torch ≥ 2.1's byteorder member: little loads, big is refused", () => {
    const withOrder = (order: string) => file(writeZip([{ name: 'm/data.pkl', data: stateDictPickle([B]) }, { name: 'm/byteorder', data: Buffer.from(order) }, { name: 'm/data/1', data: f32Bytes(bValues) }]));
    expect(read(withOrder('little'), 'b')).toEqual(bValues);
    expect(errorOf(() => readTorchFile(withOrder('big')))).toMatch(/: was written on a "big"-endian machine \("m\/byteorder"\); vggc reads little-endian checkpoints only$/);
  });

  it('a damaged central directory or end record', () => {
    const good = fs.readFileSync(archive(stateDictPickle([W, B])));
    const cut = good.subarray(0, good.length - 10);
    expect(errorOf(() => readTorchFile(file(cut)))).toMatch(/: zip archive: no end-of-central-directory record/);
    const badCd = Buffer.from(good);
    badCd.writeUInt32LE(0x12345678, badCd.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])));
    expect(errorOf(() => readTorchFile(file(badCd)))).toMatch(/: zip archive: central directory entry 0 \(byte \d+\) has no entry signature$/);
    const badCrc = Buffer.from(good);
    badCrc[100] ^= 1; // inside data.pkl
    expect(errorOf(() => readTorchFile(file(badCrc)))).toMatch(/: zip entry "m\/data\.pkl": CRC-32 does not match its data \(damaged file\)$/);
  });

  it('a damaged byte inside the data of a tensor is refused by its CRC-32 (it compiled into other weights before)', () => {
    const good = fs.readFileSync(archive(stateDictPickle([W, B])));
    const at = good.indexOf(Buffer.from(f32Bytes(wValues)));
    expect(at).toBeGreaterThan(0);
    const flipped = Buffer.from(good);
    flipped[at + 5] ^= 0x10;
    // Opening reads only the directory and the pickle (a summary reads no weights); a compile checks the data.
    const f = readTorchFile(file(flipped));
    try {
      expect(errorOf(() => f.verifyData())).toMatch(/: zip entry "m\/data\/0": CRC-32 does not match its data \(damaged file\)$/);
    } finally {
      f.close();
    }
    const intact = readTorchFile(file(good));
    intact.verifyData();
    intact.close();
  });
});

describe('pickles', () => {
  const zipWith = (pickle: number[] | Uint8Array): string => archive(pickle instanceof Uint8Array ? pickle : Uint8Array.from(pickle));
  const sd = (...body: (number | number[])[]): number[] => [...op.proto(), ...op.emptyDict, ...op.mark, ...body.flat(), ...op.setitems, ...op.stop];

  it.each<[string, number[], RegExp]>([
    ['truncated', sd(op.unicode('x')).slice(0, 4), /: m\/data\.pkl byte \d+: data ends before the pickle does \(truncated or damaged file\)$/],
    ['NEWOBJ', [...op.proto(), ...op.global('collections', 'OrderedDict'), ...op.emptyTuple, 0x81, ...op.stop], /unsupported pickle opcode NEWOBJ \(0x81\): vggc reads only the opcodes torch\.save writes for tensors$/],
    ['a protocol-0 text opcode', [...op.proto(), 0x49, ...Buffer.from('1\n'), ...op.stop], /unsupported pickle opcode INT \(0x49\)/],
    ['a string longer than the data', [...op.proto(), 0x58, ...u32(0xfffffff0), ...op.stop], /: m\/data\.pkl byte 2: length 4294967280 runs past the end of the data \(\d+ bytes left\)$/],
    ['a memo entry never stored', [...op.proto(), ...op.get(7), ...op.stop], /memo entry 7 was never stored/],
    ['MARKs nested 20,000 deep', [...op.proto(), ...new Array(20_000).fill(0x28), ...op.stop], /MARKs nested deeper than 16384$/],
    ['REDUCE on a string', [...op.proto(), ...op.unicode('os.system'), ...op.emptyTuple, ...op.reduce, ...op.stop], /REDUCE applies a str, which is not callable here$/],
    ['BUILD on a list', [...op.proto(), ...op.emptyList, ...op.emptyDict, ...op.build, ...op.stop], /BUILD on a list is not supported$/],
    ['two objects left at STOP', [...op.proto(), ...op.none, ...op.none, ...op.stop], /STOP with 2 items on the stack, expected 1/],
    ['STACK_GLOBAL of non-strings', [...op.proto(4), ...op.int(1), ...op.int(2), 0x93, ...op.stop], /STACK_GLOBAL needs two strings$/],
    ['_rebuild_tensor_v2 with 3 arguments', [...op.proto(), ...op.global('torch._utils', '_rebuild_tensor_v2'), ...op.none, ...op.none, ...op.none, 0x87, ...op.reduce, ...op.stop], /torch\._utils\._rebuild_tensor_v2 takes 6 to 7 arguments, found 3$/],
    ['exec through STACK_GLOBAL', [...op.proto(4), 0x8c, 8, ...Buffer.from('builtins'), 0x8c, 4, ...Buffer.from('exec'), 0x93, ...op.stop], /: refuses global builtins\.exec: vggc loads only tensors \(a state_dict\), never code$/],
    ['a torch.nn module class', [...op.proto(), ...op.global('torch.nn.modules.conv', 'Conv2d'), ...op.stop], /: holds a whole pickled model \(global torch\.nn\.modules\.conv\.Conv2d\), not a state_dict: .*save model\.state_dict\(\) instead$/],
    ['a class of the training script', [...op.proto(), ...op.global('__main__', 'Net'), ...op.stop], /: holds a whole pickled model \(global __main__\.Net\)/],
    ['a name with a newline-free oddity', [...op.proto(4), 0x8c, 3, 0x61, 0x0d, 0x62, 0x8c, 1, 0x63, 0x93, ...op.stop], /: refuses global "a\\rb"\.c: /],
  ])('%s', (_what, pickle, expected) => {
    const p = zipWith(pickle);
    const msg = errorOf(() => readTorchFile(p));
    expect(msg.startsWith(`${p}: `)).toBe(true);
    expect(msg).toMatch(expected);
  });

  it('bounded: the pickle size, the stack, pushes, objects and memo entries have limits', () => {
    const repeat = (unit: number[], times: number): Uint8Array => {
      const out = new Uint8Array(unit.length * times);
      for (let i = 0; i < times; i++) out.set(unit, i * unit.length);
      return out;
    };
    const wrap = (body: Uint8Array): Uint8Array => Buffer.concat([bytes(op.proto(4)), body, bytes(op.none, op.stop)]);
    expect(errorOf(() => readTorchFile(zipWith(new Uint8Array((16 << 20) + 1))))).toMatch(/: zip entry "m\/data\.pkl": is 16777217 bytes, more than the 16777216-byte limit for it$/);
    expect(errorOf(() => readTorchFile(zipWith(wrap(repeat(op.none, (1 << 20) + 1)))))).toMatch(/: m\/data\.pkl byte 1048578: stack exceeds 1048576 items$/);
    const marked = [...op.mark, ...new Array<number>(1000).fill(0x4e), 0x31]; // MARK, 1000 × NONE, POP_MARK
    expect(errorOf(() => readTorchFile(zipWith(wrap(repeat(marked, 8400)))))).toMatch(/pushes more than 8388608 values$/);
    expect(errorOf(() => readTorchFile(zipWith(wrap(repeat([...op.emptyList, 0x30], (1 << 21) + 1)))))).toMatch(/creates more than 2097152 objects$/);
    const puts = new Uint8Array(5 * ((1 << 20) + 1));
    for (let i = 0; i <= 1 << 20; i++) puts.set([0x72, ...u32(i)], 5 * i); // LONG_BINPUT i
    expect(errorOf(() => readTorchFile(zipWith(Buffer.concat([bytes(op.proto(4), op.none), puts, bytes(op.stop)]))))).toMatch(/memo exceeds 1048576 entries$/);
  });

  it('a tensor reaching past its storage, a storage larger than the file, one storage with two types', () => {
    expect(errorOf(() => readTorchFile(archive(stateDictPickle([{ ...W, shape: [2, 4] }]))))).toMatch(/_rebuild_tensor_v2: tensor of size \[2, 4\], stride \[4, 1\] at offset 0 reaches element 7 of a 6-element storage$/);
    expect(errorOf(() => readTorchFile(archive(stateDictPickle([{ ...W, storageNumel: 1e9 }]))))).toMatch(/storage "0" of 1000000000 float32 elements is larger than the file/);
    const clash = stateDictPickle([W, { ...B, storage: '0', storageClass: 'HalfStorage' }]);
    expect(errorOf(() => readTorchFile(archive(clash)))).toMatch(/storage "0" is named as 6 × FloatStorage and as 2 × HalfStorage$/);
  });

  it('module./_orig_mod. prefixes that make two keys one', () => {
    const p = archive(stateDictPickle([W, { ...W, key: 'module.w' }]));
    expect(errorOf(() => readTorchFile(p))).toMatch(/: tensors "w" and "module\.w" are both "w" once the module\.\/_orig_mod\. prefixes are removed$/);
  });

  it('not a checkpoint: empty, text, a tar archive', () => {
    expect(errorOf(() => readTorchFile(file(new Uint8Array(0))))).toMatch(/: is not a PyTorch checkpoint: neither a torch\.save zip archive nor a legacy torch\.save pickle$/);
    expect(errorOf(() => readTorchFile(file(Buffer.from('{"a": 1}'))))).toMatch(/is not a PyTorch checkpoint/);
    const tar = Buffer.alloc(1024);
    tar.write('ustar', 257);
    expect(errorOf(() => readTorchFile(file(tar)))).toMatch(/is a tar-format checkpoint from PyTorch before 0\.4/);
    expect(errorOf(() => readTorchFile(join(dir, 'missing.pth')))).toMatch(/missing\.pth: cannot open checkpoint \(ENOENT\)$/);
  });
});

describe('legacy format', () => {
  const magic = [...op.proto(), 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, ...op.stop];
  const version = [...op.proto(), 0x4d, 0xe9, 0x03, ...op.stop];
  const sysInfo = [...op.proto(), ...op.emptyDict, ...op.unicode('little_endian'), ...op.true, ...op.setitem, ...op.stop];
  /** The stateDictPickle with legacy persistent ids (a 6th item: no view). */
  const legacyPickle = (): number[] => {
    const zipPickle = [...stateDictPickle([W])];
    const cpu = [...op.unicode('cpu'), ...op.int(6)];
    const at = zipPickle.findIndex((_, i) => cpu.every((b, j) => zipPickle[i + j] === b)) + cpu.length;
    return [...zipPickle.slice(0, at), ...op.none, ...zipPickle.slice(at)];
  };
  const keys = [...op.proto(), ...op.emptyList, ...op.mark, ...op.unicode('0'), ...op.appends, ...op.stop];
  const storage = (count: number, values: number[]) => [...u32(count), 0, 0, 0, 0, ...f32Bytes(values)];

  it('reads a hand-made legacy file', () => {
    const p = file(bytes(magic, version, sysInfo, legacyPickle(), keys, storage(6, wValues)));
    const f = readTorchFile(p);
    expect(f.format).toBe('legacy');
    expect(Array.from(f.tensors.get('w')!.read(0, 6))).toEqual(wValues);
    f.close();
  });

  it.each<[string, () => number[], RegExp]>([
    ['another magic number', () => [...op.proto(), ...op.int(7), ...op.stop], /: starts with a pickle of 7, not torch's magic number: not a PyTorch checkpoint$/],
    ['another protocol version', () => [...magic, ...op.proto(), 0x4d, 0xe8, 0x03, ...op.stop], /: legacy checkpoint has protocol version 1000, expected 1001$/],
    ['a big-endian writer', () => [...magic, ...version, ...sysInfo.slice(0, -3), ...op.false, ...op.setitem, ...op.stop], /was written on a big-endian machine/],
    ['a storage count that disagrees', () => [...magic, ...version, ...sysInfo, ...legacyPickle(), ...keys, ...storage(5, wValues)], /: legacy storage "0" at byte \d+ holds 5 elements but the pickle declares 6$/],
    ['truncated storage data', () => [...magic, ...version, ...sysInfo, ...legacyPickle(), ...keys, ...storage(6, wValues).slice(0, -4)], /: legacy storage "0" \(bytes \d+\.\.\d+\) runs past the end of the file/],
    ['bytes after the last storage', () => [...magic, ...version, ...sysInfo, ...legacyPickle(), ...keys, ...storage(6, wValues), 0], /: legacy checkpoint: 1 unexpected bytes after the last storage/],
    ['a global in the sys_info pickle', () => [...magic, ...version, ...op.proto(), ...op.global('os', 'system'), ...op.stop], /: refuses global os\.system/],
  ])('%s', (_what, make, expected) => {
    expect(errorOf(() => readTorchFile(file(bytes(make()))))).toMatch(expected);
  });
});

// ── derive.ts on state_dicts given as shapes only ───────────────────────────────────────────────
function fake(shapes: Record<string, number[]>): Map<string, StoredTensor> {
  return new Map(Object.entries(shapes).map(([k, shape]) => [k, { shape, origin: k, read: () => new Float32Array(0) }]));
}
const conv = (i: number, out: number, inC: number, k = 3) => ({ [`features.${i}.weight`]: [out, inC, k, k], [`features.${i}.bias`]: [out] });
const linear = (k: number, out: number, inF: number) => ({ [`classifier.${k}.weight`]: [out, inF], [`classifier.${k}.bias`]: [out] });
const derive = (shapes: Record<string, number[]>) => deriveNetwork('/m/model.pth', fake(shapes));

describe('derive', () => {
  it('torchvision VGG-16 numbering: 5 blocks, 7×7 head pool, ReLU between 0, 3 and 6', () => {
    const cfg = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'];
    let shapes: Record<string, number[]> = {};
    let i = 0;
    let c = 3;
    for (const v of cfg) {
      if (v === 'M') i += 1;
      else {
        shapes = { ...shapes, ...conv(i, v as number, c) };
        c = v as number;
        i += 2;
      }
    }
    const d = derive({ ...shapes, ...linear(0, 4096, 25088), ...linear(3, 4096, 4096), ...linear(6, 1000, 4096) });
    expect(d.blocks).toEqual([[3, 2, 64], [64, 2, 128], [128, 3, 256], [256, 3, 512], [512, 3, 512]]);
    expect(d.headPool).toEqual({ kind: 'avg', size: [7, 7] });
    expect(d.linears.map((l) => l.relu)).toEqual([true, true, false]);
    expect(d.name).toBe('model');
    expect(d.inputSize).toBeNull();
  });

  it('the notebook layout: five blocks, input side from in_features = C·h² with h·2^5', () => {
    const nb = (b: number, j: number, out: number, inC: number) => ({ [`conv_backbone.features.${b}.conv_block.${j}.weight`]: [out, inC, 3, 3], [`conv_backbone.features.${b}.conv_block.${j}.bias`]: [out] });
    const d = derive({ ...nb(0, 0, 8, 3), ...nb(1, 0, 8, 8), ...nb(1, 2, 8, 8), ...nb(2, 0, 8, 8), ...nb(3, 0, 8, 8), ...nb(4, 0, 16, 8), ...linear(0, 10, 16 * 49) });
    expect(d.blocks).toEqual([[3, 1, 8], [8, 2, 8], [8, 1, 8], [8, 1, 8], [8, 1, 16]]);
    expect(d.inputSize).toEqual([224, 224]);
    expect(d.headPool).toBeNull();
  });

  it('a conv without bias is accepted with bias null', () => {
    const d = derive({ 'features.0.weight': [4, 3, 3, 3], ...linear(0, 2, 4) });
    expect(d.convs[0].bias).toBeNull();
    expect(d.headPool).toEqual({ kind: 'avg', size: [1, 1] });
  });

  it.each<[string, Record<string, number[]>, string]>([
    ['an unknown key', { ...conv(0, 4, 3), 'fc.weight': [2, 4] }, 'unexpected tensor fc.weight: not a VGG (expected features.N.* and classifier.K.* as in torchvision)'],
    ['an unknown parameter of a conv', { ...conv(0, 4, 3), 'features.0.scale': [4], ...linear(0, 2, 4) }, 'unexpected tensor features.0.scale: features.0 holds weight/bias only in a VGG'],
    ['a gap that is neither ReLU nor pool', { ...conv(0, 4, 3), ...conv(5, 4, 4), ...linear(0, 2, 4) }, "features.5.weight follows the conv at features.0 after 5 indices; torchvision's make_layers puts the next conv 2 (or 3 after a MaxPool2d) indices later"],
    ['a 5×5 kernel', { ...conv(0, 4, 3, 5), ...linear(0, 2, 4) }, 'features.0.weight has a 5×5 kernel; vggc compiles 3×3 convolutions only'],
    ['channels that do not chain', { ...conv(0, 4, 3), ...conv(2, 4, 5), ...linear(0, 2, 4) }, 'features.2.weight has 5 input channels but the previous conv (features.0) has 4 outputs'],
    ['two widths in one block', { ...conv(0, 4, 3), ...conv(2, 8, 4), ...linear(0, 2, 8) }, "features.2.weight has 8 outputs but features.0 in the same block has 4; vggc's blocks have one width"],
    ['a head that is not C·k²', { ...conv(0, 4, 3), ...linear(0, 2, 8) }, "classifier.0.weight has in_features 8, which is not the last conv's 4 channels × a square map (k × k); pass a config instead"],
    ['linears that do not chain', { ...conv(0, 4, 3), ...linear(0, 5, 4), ...linear(3, 2, 6) }, 'classifier.3.weight has in_features 6 but classifier.0 has 5 outputs'],
    ['no classifier', conv(0, 4, 3), 'no classifier tensors (classifier.K.weight, as in torchvision)'],
    ['no convolutions', linear(0, 2, 4), 'no convolution tensors (features.N.weight): not a VGG (expected features.N.* and classifier.K.* as in torchvision)'],
    ['a BatchNorm with no conv before it', { 'features.0.running_mean': [4], 'features.0.running_var': [4], ...linear(0, 2, 4) }, 'features.0.running_mean: BatchNorm2d at features.0 does not follow a convolution'],
    ['a BatchNorm of the wrong size', { ...conv(0, 4, 3), 'features.1.running_mean': [3], 'features.1.running_var': [4], ...linear(0, 2, 4) }, 'features.1.running_mean has shape [3], expected [4]'],
    ['a 2-D weight among the features', { 'features.0.weight': [4, 3], ...linear(0, 2, 4) }, 'features.0.weight has shape [4, 3]: expected a Conv2d weight [out, in, 3, 3] or BatchNorm2d vectors'],
    ['a notebook block missing', { 'conv_backbone.features.1.conv_block.0.weight': [4, 3, 3, 3], ...linear(0, 2, 4) }, 'no tensors for block conv_backbone.features.0 (blocks must be numbered 0 to 0)'],
    ['a notebook conv at the wrong index', { 'conv_backbone.features.0.conv_block.1.weight': [4, 3, 3, 3], ...linear(0, 2, 4) }, "conv_backbone.features.0.conv_block.1.weight is at index 1; the notebook's ConvBlock puts this conv at 0"],
    ['torchvision keys mixed into the notebook layout', { 'conv_backbone.features.0.conv_block.0.weight': [4, 3, 3, 3], ...conv(0, 4, 3), ...linear(0, 2, 4) }, 'unexpected tensor features.0.weight: not a VGG (expected conv_backbone.features.B.conv_block.J.* and classifier.K.* as in the seed notebook)'],
  ])('refuses %s', (_what, shapes, message) => {
    expect(errorOf(() => derive(shapes))).toBe(`/m/model.pth: ${message}`);
  });
});
