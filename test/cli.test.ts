// The command line, exercised through the BUILT file dist/compiler/cli.js (`npm test` runs tsc first).
// User errors: exactly one stderr line `error: …`, exit 1, no stack trace. Usage errors: exit 2.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readConfigFile } from '../compiler/frontend/config/parse.js';
import { buildGraph } from '../compiler/graph/graph.js';
import { writeSafetensors, type SafetensorsTensor } from '../compiler/frontend/safetensors/write.js';
import { readNpy, writeNpy } from '../runtime/npy.js';
import { supportsRelaxedSimd } from '../runtime/load/build.js';
import { expectParity, GOLDEN, ROOT, tempDir } from './helpers.js';

const CLI = join(ROOT, 'dist/compiler/cli.js');
const SMALL = join(GOLDEN, 'small-rect');
const SMALL_CONFIG = join(SMALL, 'config.json');
const SMALL_WEIGHTS = join(SMALL, 'weights.safetensors');
const BAD_CONFIG = 'test/fixtures/bad/config';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function vggc(...args: string[]): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A user error: exit 1 and exactly one stderr line `error: …` (no stack trace). Returns the message. */
function expectUserError(r: Run): string {
  expect(r.status, `stdout: ${r.stdout}\nstderr: ${r.stderr}`).toBe(1);
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^error: \S/);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr).not.toMatch(/internal error/);
  return lines[0].slice('error: '.length);
}

function manifestOf(dir: string): { weights: { sha256: string; source: string }; wasm: { sha256: string } } {
  return JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
}

/** small-rect's parameters with fresh data; `edit` may change a tensor's shape or values. */
function writeSmallRectWeights(path: string, edit: (t: SafetensorsTensor) => SafetensorsTensor = (t) => t): void {
  const graph = buildGraph(readConfigFile(SMALL_CONFIG));
  const tensors = graph.params.map((p) => {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n).map((_, i) => Math.sin(i + n) * 0.1);
    return edit({ key: p.key, shape: [...p.shape], data });
  });
  writeSafetensors(path, tensors);
}

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npx tsc -p tsconfig.json\` (npm test does) before these tests`);
});

describe('usage', () => {
  it('--help exits 0 and lists the commands', () => {
    const r = vggc('--help');
    expect(r.status).toBe(0);
    for (const cmd of ['compile', 'run', 'summary']) expect(r.stdout).toMatch(new RegExp(`^\\s+${cmd} `, 'm'));
  });

  it('an unknown command exits 2', () => {
    const r = vggc('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'frobnicate'/);
  });

  it('compile without -o exits 2', () => {
    const r = vggc('compile', SMALL_CONFIG);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/required option '-o, --out <dir>'/);
  });

  it('run without -i exits 2', () => {
    expect(vggc('run', 'somewhere', '-o', 'out.npy').status).toBe(2);
  });

  it('a bad --seed exits 2', () => {
    expect(vggc('compile', SMALL_CONFIG, '-o', 'x', '--seed', '-1').status).toBe(2);
  });
});

describe('summary', () => {
  it('prints torchvision VGG16 parameter total', () => {
    const r = vggc('summary', 'examples/vgg16.json');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('Total params: 138,357,544');
  });

  it('reports the weight files\' size for each --weights-dtype, marking the planned one', () => {
    const r = vggc('summary', 'examples/vgg11.json', '--weights-dtype', 'int8');
    expect(r.status, r.stderr).toBe(0);
    const size = (dtype: string): number => Number(new RegExp(`^  ${dtype}\\s+([\\d.]+) MB`, 'm').exec(r.stdout)?.[1]);
    // VGG-11, 132.9 M parameters: every dtype stores the 3×3 filters, which the Winograd layers
    // transform at load; f32 / f16 / int8 store every weight in 4 / 2 / 1 bytes (+ int8 scales).
    // (Until issue 15, f32 stored the transformed filters, 36 values per 3×3 filter: 642.05 MB.)
    expect(size('f32')).toBeCloseTo(531.45, 1);
    expect(size('f16')).toBeCloseTo(265.75, 1);
    expect(size('int8')).toBeCloseTo(132.95, 1);
    expect(r.stdout).toMatch(/^  int8 .* ← this plan$/m);
    // U at load: F(6×6) for conv2_1, conv3_2 and conv4_x (64 values per 3×3 filter), F(5×5) for
    // conv5_x (49), F(4×4) for conv3_1 (36): the scheduler's per-layer choice.
    expect(r.stdout).toMatch(/prepared at load: 227\.02 MB/);
    expect(r.stdout).toMatch(/f32-qc8w-gemm-4x8-bias-relu-wasmsimd/);
  });

  it('an unknown --weights-dtype is a usage error', () => {
    const r = vggc('summary', 'examples/vgg11.json', '--weights-dtype', 'int4');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/option '--weights-dtype <dtype>' argument 'int4' is invalid. Allowed choices are f32, f16, int8/);
  });

  it('a too-big network fails in summary too, naming the size', () => {
    const msg = expectUserError(vggc('summary', `${BAD_CONFIG}/too-big.json`));
    expect(msg).toBe(`${BAD_CONFIG}/too-big.json: the model needs 4.93 GiB of wasm memory (weights 4.91 GiB + activations 0.02 GiB) but WebAssembly allows at most 4 GiB`);
  });
});

describe('compile --weights-dtype', () => {
  const tmp = tempDir('vggc-cli-dtype-');

  it('prints the artifact sizes and the dtype', () => {
    const r = vggc('compile', SMALL_CONFIG, '-w', SMALL_WEIGHTS, '-o', join(tmp, 'int8'), '--weights-dtype', 'int8');
    expect(r.status, r.stderr).toBe(0);
    const bytes = readFileSync(join(tmp, 'int8', 'weights-000.bin')).length;
    expect(r.stdout).toContain(`weights-000.bin     ${(bytes / 1e6).toFixed(1)} MB  (int8; ${SMALL_WEIGHTS})`);
    expect(r.stdout).toMatch(/model\.wasm +[\d.]+ KB/);
    expect(r.stdout).toMatch(/model-relaxed\.wasm +[\d.]+ KB/);
  });

  it('f16 refuses a weight beyond its range, naming the tensor and value', () => {
    const weights = join(tmp, 'huge.safetensors');
    writeSmallRectWeights(weights, (t) => (t.key === 'classifier.0.weight' ? { ...t, data: (t.data as Float32Array).map((v, i) => (i === 5 ? 70000 : v)) } : t));
    const out = join(tmp, 'huge');
    const msg = expectUserError(vggc('compile', SMALL_CONFIG, '-w', weights, '-q', '-o', out, '--weights-dtype', 'f16'));
    expect(msg).toBe("classifier.0.weight: value 70000 at element 5 is beyond f16's range (±65504); use --weights-dtype f32 or int8");
    expect(existsSync(out)).toBe(false); // nothing half-written
    expect(vggc('compile', SMALL_CONFIG, '-w', weights, '-q', '-o', out, '--weights-dtype', 'int8').status).toBe(0);
  });

  it('f16 and int8 refuse NaN/Inf even with --allow-nonfinite, naming the element in the whole tensor', () => {
    const weights = join(tmp, 'nan.safetensors');
    // classifier.0.weight is [40, 216]: element 1000 is in row 4, which the packer quantises on its own.
    writeSmallRectWeights(weights, (t) => (t.key === 'classifier.0.weight' ? { ...t, data: (t.data as Float32Array).map((v, i) => (i === 1000 ? Number.NaN : v)) } : t));
    const out = join(tmp, 'nan');
    for (const dtype of ['f16', 'int8']) {
      const msg = expectUserError(vggc('compile', SMALL_CONFIG, '-w', weights, '-q', '-o', out, '--allow-nonfinite', '--weights-dtype', dtype));
      expect(msg).toBe(`classifier.0.weight: element 1000 is NaN, which --weights-dtype ${dtype} cannot store (--allow-nonfinite works with f32 only)`);
      expect(existsSync(out)).toBe(false);
    }
    expect(vggc('compile', SMALL_CONFIG, '-w', weights, '-q', '-o', out, '--allow-nonfinite').status).toBe(0);
  });
});

describe('compile --shard-size', () => {
  const tmp = tempDir('vggc-cli-shards-');

  it('8KiB writes 12 shards, 0 one weights.bin; run gives the same logits from either, matching PyTorch', () => {
    const ref = readNpy(join(SMALL, 'logits.npy'));
    const logits: Buffer[] = [];
    for (const [size, files] of [['8KiB', 12], ['0', 1]] as const) {
      const out = join(tmp, `s${size}`);
      const r = vggc('compile', SMALL_CONFIG, '-w', SMALL_WEIGHTS, '-o', out, '--shard-size', size);
      expect(r.status, r.stderr).toBe(0);
      const weights = readdirSync(out).filter((f) => f.startsWith('weights'));
      expect(weights.length).toBe(files);
      if (size === '0') expect(weights).toEqual(['weights.bin']);
      expect(r.stdout).toContain(size === '0' ? 'weights.bin         0.1 MB' : '12 shards           0.1 MB');
      const run = vggc('run', out, '-i', join(SMALL, 'input.npy'), '-o', join(tmp, `y${size}.npy`));
      expect(run.status, run.stderr).toBe(0);
      expectParity(readNpy(join(tmp, `y${size}.npy`)).data, ref.data, 10);
      logits.push(readFileSync(join(tmp, `y${size}.npy`)));
    }
    expect(logits[0].equals(logits[1])).toBe(true);
  });

  it('a malformed size, or one below 4 KiB, is a usage error naming the option', () => {
    const bad = vggc('compile', SMALL_CONFIG, '-o', join(tmp, 'bad'), '--shard-size', '16 megs');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/option '--shard-size <size>' argument '16 megs' is invalid\. expected a size in bytes, or with KiB or MiB/);
    const tiny = vggc('compile', SMALL_CONFIG, '-o', join(tmp, 'tiny'), '--shard-size', '100');
    expect(tiny.status).toBe(2);
    expect(tiny.stderr).toMatch(/option '--shard-size <size>' argument '100' is invalid\. expected 0 \(one weights file\) or at least 4096 bytes/);
    expect(existsSync(join(tmp, 'tiny'))).toBe(false);
  });
});

describe('compile and run the small-rect golden', () => {
  const tmp = tempDir('vggc-cli-');
  const dir = join(tmp, 'small-rect');

  beforeAll(() => {
    const r = vggc('compile', SMALL_CONFIG, '-w', SMALL_WEIGHTS, '-q', '-o', dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('');
  });

  it('writes model.wasm, the weights (one 16 MiB shard for this small model), model.json, model.ts', () => {
    expect(readdirSync(dir).sort()).toEqual(['model-relaxed.wasm', 'model.json', 'model.ts', 'model.wasm', 'weights-000.bin']);
    expect(manifestOf(dir).weights.source).toBe(SMALL_WEIGHTS);
  });

  it('run writes logits matching PyTorch within 1e-4 · max|y|', () => {
    const out = join(tmp, 'out.npy');
    const r = vggc('run', dir, '-i', join(SMALL, 'input.npy'), '-o', out);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^2 image\(s\) → .*out\.npy \[2, 10\]/);
    const y = readNpy(out);
    const ref = readNpy(join(SMALL, 'logits.npy'));
    expect(y.shape).toEqual([2, 10]);
    expect(ref.shape).toEqual([2, 10]);
    expect(Math.max(...ref.data.map(Math.abs))).toBeGreaterThan(0);
    expectParity(y.data, ref.data, 10);
  });

  it('run --build: deterministic by default, relaxed on request (one-line error where the engine lacks it), an unknown build is a usage error', () => {
    const input = join(SMALL, 'input.npy');
    const byDefault = vggc('run', dir, '-i', input, '-o', join(tmp, 'default.npy'));
    const deterministic = vggc('run', dir, '-i', input, '-o', join(tmp, 'deterministic.npy'), '--build', 'deterministic');
    expect(byDefault.status, byDefault.stderr).toBe(0);
    expect(byDefault.stdout).toMatch(/deterministic build\)$/m);
    expect(deterministic.status, deterministic.stderr).toBe(0);
    expect(readFileSync(join(tmp, 'default.npy')).equals(readFileSync(join(tmp, 'deterministic.npy')))).toBe(true);
    const relaxed = vggc('run', dir, '-i', input, '-o', join(tmp, 'relaxed.npy'), '--build', 'relaxed');
    // The child runs this process's Node without flags: Node 20 lacks relaxed SIMD, Node ≥ 22 has it.
    if (supportsRelaxedSimd()) {
      expect(relaxed.status, relaxed.stderr).toBe(0);
      expect(relaxed.stdout).toMatch(/relaxed build\)$/m);
      expectParity(readNpy(join(tmp, 'relaxed.npy')).data, readNpy(join(SMALL, 'logits.npy')).data, 10);
    } else {
      expect(expectUserError(relaxed)).toMatch(/^loadModel: this JavaScript engine does not support relaxed SIMD/);
    }
    const typo = vggc('run', dir, '-i', input, '-o', join(tmp, 'typo.npy'), '--build', 'fast');
    expect(typo.status).toBe(2);
    expect(typo.stderr).toMatch(/Allowed choices are deterministic, relaxed, fastest, auto/);
  });

  it('summary of the compiled folder: what its model.json records, the same kernels as the model file\'s summary', () => {
    const r = vggc('summary', dir);
    expect(r.status, r.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    expect(r.stdout.split('\n')[0]).toBe(`${dir}: ${manifest.name}, compiled by vggc ${manifest.vggcVersion} (model.json format ${manifest.formatVersion}); input 3×64×48 → 10 classes (logits)`);
    const fromFile = vggc('summary', SMALL_CONFIG);
    expect(fromFile.status, fromFile.stderr).toBe(0);
    // The layer table comes from the config the folder records, the steps from model.json: both agree
    // with planning the model file afresh (compiled with the default options).
    const table = (out: string): string => out.slice(out.indexOf('Layer (type)'), out.indexOf('Compiled steps'));
    expect(table(r.stdout)).toBe(table(fromFile.stdout));
    const kernels = (out: string): string[] => [...out.matchAll(/^ {2}[ \d]\d {2}.{44} (f32-\S+)/gm)].map((m) => m[1]);
    expect(kernels(r.stdout)).toEqual(manifest.steps.map((s: { kernel: string }) => s.kernel));
    expect(kernels(r.stdout)).toEqual(kernels(fromFile.stdout));
    expect(r.stdout).toMatch(/^ {2}model\.wasm +[\d.]+ KB \(the deterministic build/m);
    expect(r.stdout).toMatch(/^ {2}weights-000\.bin: 1 shard\(s\)/m);
    expect(r.stdout).not.toMatch(/missing/);
  });

  it('summary of a compiled folder: a missing shard is shown, planning options and a damaged model.json are one-line errors', () => {
    const copy = join(tmp, 'summary-copy');
    cpSync(dir, copy, { recursive: true });
    rmSync(join(copy, 'weights-000.bin'));
    const r = vggc('summary', copy);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ {2}missing: weights-000\.bin \(the folder will not load\)$/m);
    expect(expectUserError(vggc('summary', copy, '--weights-dtype', 'int8', '--outputs', 'fc1'))).toBe(
      `--weights-dtype, --outputs apply to a model file, not to a compiled folder (vggc summary ${copy} shows what it was compiled with)`,
    );
    const manifest = JSON.parse(readFileSync(join(copy, 'model.json'), 'utf8'));
    writeFileSync(join(copy, 'model.json'), JSON.stringify({ ...manifest, formatVersion: 3 }));
    expect(expectUserError(vggc('summary', copy))).toBe(`${join(copy, 'model.json')}: manifest version 3 is not supported by this runtime (expected 4); recompile the model`);
    writeFileSync(join(copy, 'model.json'), '{"format": ');
    expect(expectUserError(vggc('summary', copy))).toMatch(new RegExp(`^${join(copy, 'model.json')}: invalid JSON \\(`));
  });

  it('run on an input of the wrong shape', () => {
    const input = join(GOLDEN, 'notebook/input.npy');
    expect(expectUserError(vggc('run', dir, '-i', input, '-o', join(tmp, 'o.npy')))).toBe(
      `${input}: shape [1, 3, 32, 32] does not match the model's input N×3×64×48`,
    );
    expect(existsSync(join(tmp, 'o.npy'))).toBe(false);
  });

  it('run on a non-npy input', () => {
    expect(expectUserError(vggc('run', dir, '-i', SMALL_CONFIG, '-o', join(tmp, 'o.npy')))).toBe(`${SMALL_CONFIG}: not a .npy file`);
  });

  it('run: no output asked for is a usage error; an output that cannot be written is a one-line error', () => {
    const input = join(SMALL, 'input.npy');
    const none = vggc('run', dir, '-i', input);
    expect(none.status).toBe(2);
    expect(none.stderr.split('\n')[0]).toBe('error: run: give --output FILE (the first output) and/or --outputs-dir DIR (every output)');
    const nowhere = join(tmp, 'no-such-folder', 'y.npy');
    expect(expectUserError(vggc('run', dir, '-i', input, '-o', nowhere))).toBe(`${nowhere}: cannot write (ENOENT: its folder does not exist)`);
    expect(expectUserError(vggc('run', dir, '-i', input, '-o', tmp))).toBe(`${tmp}: cannot write (EISDIR: it is a folder)`);
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    expect(expectUserError(vggc('run', dir, '-i', input, '--outputs-dir', file))).toBe(`${file}: cannot create the folder (EEXIST: a file of that name exists)`);
  });

  it('run on a missing input', () => {
    const input = join(tmp, 'nope.npy');
    expect(expectUserError(vggc('run', dir, '-i', input, '-o', join(tmp, 'o.npy')))).toBe(`${input}: cannot read (ENOENT)`);
  });

  it('misleading errors a walkthrough found: each now names what the file is', () => {
    // An input of no images.
    const empty = join(tmp, 'empty.npy');
    writeNpy(empty, [0, 3, 64, 48], new Float32Array(0));
    expect(expectUserError(vggc('run', dir, '-i', empty, '-o', join(tmp, 'o.npy')))).toBe(`${empty}: holds no images (shape [0, 3, 64, 48])`);
    // A folder given as an image.
    const folderAsImage = vggc('predict', dir, tmp);
    expect(folderAsImage.status).toBe(1);
    expect(folderAsImage.stderr.split('\n')[0]).toBe(`error: ${tmp}: is a folder, not an image`);
    // A compiled model.json where a model file belongs.
    const compiled = join(dir, 'model.json');
    expect(expectUserError(vggc('summary', compiled))).toBe(`${compiled}: is the model.json of a folder vggc compiled, not a model file; vggc summary takes that folder, and a compile takes the model file it was compiled from`);
    // --weights that are not weights.
    expect(expectUserError(vggc('compile', SMALL_CONFIG, '-w', SMALL_CONFIG, '-q', '-o', join(tmp, 'w1')))).toBe(`${SMALL_CONFIG}: is a JSON file; --weights takes a .safetensors file or a PyTorch checkpoint`);
    expect(expectUserError(vggc('compile', SMALL_CONFIG, '-w', empty, '-q', '-o', join(tmp, 'w2')))).toBe(`${empty}: is a .npy array; --weights takes a .safetensors file or a PyTorch checkpoint`);
    // A weight shard that is a folder.
    const copy = join(tmp, 'shard-folder');
    cpSync(dir, copy, { recursive: true });
    rmSync(join(copy, 'weights-000.bin'));
    mkdirSync(join(copy, 'weights-000.bin'));
    expect(expectUserError(vggc('run', copy, '-i', join(SMALL, 'input.npy'), '-o', join(tmp, 'o.npy')))).toBe(`${join(copy, 'weights-000.bin')}: is a folder; model.json lists it as a weights shard`);
  });

  it("bench: the median and a per-layer profile held to the ceiling measured now, or to --ceiling's", () => {
    const measured = vggc('bench', dir, '--runs', '1', '--threads', '1');
    expect(measured.status, measured.stderr).toBe(0);
    const lines = measured.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^small-rect: median [\d.]+ ms per image over 1 runs \(first inference [\d.]+ ms\), 1 thread\(s\), deterministic build$/);
    const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    // Header, one row per step, the total and the footer.
    expect(lines).toHaveLength(1 + 1 + manifest.steps.length + 2);
    const footer = /the ceiling is ([\d.]+) GFLOP\/s per thread \(measured now: vggc's f32 Winograd GEMM tile 4x8 \(mul \+ add\), K=256, in L1, best of 40 runs, median ([\d.]+)\)\.$/.exec(lines.at(-1) ?? '');
    expect(footer, lines.at(-1)).not.toBeNull();
    const [best, median] = [Number(footer?.[1]), Number(footer?.[2])];
    // The best of 40 runs is at least their median (rounded to 0.1), and both are real rates.
    expect(median).toBeGreaterThan(0);
    expect(best).toBeGreaterThanOrEqual(Math.floor(median * 10) / 10);
    expect(lines[1]).toMatch(new RegExp(`of ${Math.round(best)}$`));

    const given = vggc('bench', dir, '--runs', '1', '--threads', '1', '--ceiling', '56');
    expect(given.status, given.stderr).toBe(0);
    expect(given.stdout).toMatch(/ of 56\n/);
    expect(given.stdout.trim().split('\n').at(-1)).toMatch(/the ceiling is 56 GFLOP\/s per thread \(given with --ceiling\)\.$/);
    for (const bad of ['abc', '0', '-3']) {
      const r = vggc('bench', dir, '--ceiling', bad);
      expect(r.status, `--ceiling ${bad}`).toBe(2);
      expect(r.stderr.split('\n')[0]).toMatch(/^error: option '--ceiling <gflops>' argument '-?\w+' is invalid\. expected GFLOP\/s per thread, a positive number such as 52\.5$/);
    }
  });

  it('run on a missing model folder', () => {
    const missing = join(tmp, 'no-such-model');
    expect(expectUserError(vggc('run', missing, '-i', join(SMALL, 'input.npy'), '-o', join(tmp, 'o.npy')))).toBe(
      `${missing}/model.json: cannot read (ENOENT); is this a folder written by vggc compile?`,
    );
  });
});

describe('seeded random weights', () => {
  const tmp = tempDir('vggc-cli-seed-');

  it('compile without --weights works, and the same seed gives the same weights', () => {
    const a = join(tmp, 'a');
    const b = join(tmp, 'b');
    const c = join(tmp, 'c');
    const d = join(tmp, 'd');
    expect(vggc('compile', SMALL_CONFIG, '-q', '-o', a).status).toBe(0);
    expect(vggc('compile', SMALL_CONFIG, '-q', '--seed', '0', '-o', b).status).toBe(0);
    expect(vggc('compile', SMALL_CONFIG, '-q', '--seed', '7', '-o', c).status).toBe(0);
    expect(vggc('compile', SMALL_CONFIG, '-q', '--seed', '7', '-o', d).status).toBe(0);
    const [ma, mb, mc, md] = [a, b, c, d].map(manifestOf);
    expect(ma.weights.source).toBe('seeded random weights (seed 0)');
    expect(mc.weights.source).toBe('seeded random weights (seed 7)');
    expect(ma.weights.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(mb.weights.sha256).toBe(ma.weights.sha256);
    expect(md.weights.sha256).toBe(mc.weights.sha256);
    expect(mc.weights.sha256).not.toBe(ma.weights.sha256);
    // Fully deterministic: identical files for identical inputs.
    for (const f of ['weights-000.bin', 'model.wasm', 'model.json']) expect(readFileSync(join(b, f)).equals(readFileSync(join(a, f))), f).toBe(true);
    // And the model runs.
    const r = vggc('run', a, '-i', join(SMALL, 'input.npy'), '-o', join(tmp, 'out.npy'));
    expect(r.status, r.stderr).toBe(0);
    const y = readNpy(join(tmp, 'out.npy'));
    expect(y.shape).toEqual([2, 10]);
    expect(y.data.every(Number.isFinite)).toBe(true);
  });
});

describe('compile errors: one line, exit 1', () => {
  const tmp = tempDir('vggc-cli-err-');

  it('missing config', () => {
    expect(expectUserError(vggc('compile', 'no/such/config.json', '-q', '-o', join(tmp, 'x')))).toBe('no/such/config.json: cannot read the config file (ENOENT)');
    expect(existsSync(join(tmp, 'x'))).toBe(false);
  });

  it('a folder where a model file belongs (compile), a folder without model.json (summary)', () => {
    const expected = `${tmp} is a folder; expected a model file: a config JSON, .pth/.pt/.bin, a TF.js model.json, .onnx or .safetensors (a folder vggc compiled is what run, predict, bench and summary take)`;
    expect(expectUserError(vggc('compile', tmp, '-q', '-o', join(tmp, 'y')))).toBe(expected);
    expect(existsSync(join(tmp, 'y'))).toBe(false);
    expect(expectUserError(vggc('summary', tmp))).toBe(
      `${tmp} is a folder without model.json; expected a folder written by vggc compile, or a model file: a config JSON, .pth/.pt/.bin, a TF.js model.json, .onnx or .safetensors`,
    );
  });

  const badConfigs: [file: string, message: string][] = [
    ['syntax-missing-comma.json', "invalid JSON at line 3, column 3: Expected ',' or '}' after property value"],
    ['not-object.json', 'expected a JSON object with a "blocks" field, found [[3,1,8],[8,1,16]]'],
    ['wrong-chaining.json', 'blocks[2][0] is 64 but blocks[1] outputs 128 features'],
    ['batchnorm-not-boolean.json', 'batchNorm must be true or false, found "yes"'],
    ['unknown-field.json', 'unknown field "dropout" (known fields: name, blocks, inputSize, batchNorm, batchNormEps, avgPool, maxPool, classifier, numClasses, finalActivation, outputs, outputLayout, labels, preprocessing)'],
    ['preprocessing-std-zero.json', 'preprocessing.std[1] must be a positive number, found 0'],
    ['too-big.json', 'the model needs 4.93 GiB of wasm memory (weights 4.91 GiB + activations 0.02 GiB) but WebAssembly allows at most 4 GiB'],
  ];
  it.each(badConfigs)('bad config %s', (file, message) => {
    const out = join(tmp, file);
    expect(expectUserError(vggc('compile', `${BAD_CONFIG}/${file}`, '-q', '-o', out))).toBe(`${BAD_CONFIG}/${file}: ${message}`);
    expect(existsSync(out)).toBe(false);
  });

  it('weights file with a mis-shaped tensor', () => {
    const w = join(tmp, 'misshaped.safetensors');
    writeSmallRectWeights(w, (t) => (t.key === 'classifier.0.weight' ? { ...t, shape: [t.shape[1], t.shape[0]] } : t));
    const graph = buildGraph(readConfigFile(SMALL_CONFIG));
    const [rows, cols] = graph.params.find((p) => p.key === 'classifier.0.weight')!.shape;
    const msg = expectUserError(vggc('compile', SMALL_CONFIG, '-w', w, '-q', '-o', join(tmp, 'y')));
    expect(msg).toMatch(new RegExp(`^${w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: `));
    expect(msg).toContain('classifier.0.weight');
    expect(msg).toContain(`${cols}`);
    expect(msg).toContain(`${rows}`);
    expect(existsSync(join(tmp, 'y'))).toBe(false);
  });

  it('missing weights file', () => {
    const w = join(tmp, 'absent.safetensors');
    expect(expectUserError(vggc('compile', SMALL_CONFIG, '-w', w, '-q', '-o', join(tmp, 'z')))).toBe(`${w}: cannot open weights file (ENOENT)`);
  });
});

describe('atomic output folder', () => {
  const tmp = tempDir('vggc-cli-atomic-');
  const parent = join(tmp, 'parent');
  const dir = join(parent, 'model');

  const tempFolders = (): string[] => readdirSync(parent).filter((n) => n.startsWith('.') && n.includes('vggc-tmp'));
  const snapshot = (): Record<string, string> =>
    Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f)).toString('base64')]));

  beforeAll(() => {
    mkdirSync(parent);
    const r = vggc('compile', SMALL_CONFIG, '-w', SMALL_WEIGHTS, '-q', '-o', dir);
    expect(r.status, r.stderr).toBe(0);
  });

  it('a compile that fails early (mis-shaped weights) leaves the previous output untouched', () => {
    const before = snapshot();
    const w = join(tmp, 'misshaped.safetensors');
    writeSmallRectWeights(w, (t) => (t.key === 'features.0.weight' ? { ...t, shape: [t.shape[0], t.shape[1], 9], data: t.data } : t));
    expectUserError(vggc('compile', SMALL_CONFIG, '-w', w, '-q', '-o', dir));
    expect(snapshot()).toEqual(before);
    expect(tempFolders()).toEqual([]);
    expect(readdirSync(parent)).toEqual(['model']);
  });

  it('a compile that fails while writing weights (a NaN in the last tensor) leaves the previous output untouched', () => {
    const before = snapshot();
    const w = join(tmp, 'nan.safetensors');
    const graph = buildGraph(readConfigFile(SMALL_CONFIG));
    const last = graph.params[graph.params.length - 1].key;
    writeSmallRectWeights(w, (t) => {
      if (t.key !== last) return t;
      const data = t.data.slice();
      data[data.length - 1] = Number.NaN;
      return { ...t, data };
    });
    const msg = expectUserError(vggc('compile', SMALL_CONFIG, '-w', w, '-q', '-o', dir));
    expect(msg).toContain(last);
    expect(msg).toContain('NaN');
    expect(snapshot()).toEqual(before);
    expect(tempFolders()).toEqual([]);
    expect(readdirSync(parent)).toEqual(['model']);
  });

  it('a successful recompile replaces the folder and leaves no temp folders', () => {
    const other = join(tmp, 'copy-of-old');
    cpSync(dir, other, { recursive: true });
    const r = vggc('compile', SMALL_CONFIG, '-q', '--seed', '3', '-o', dir);
    expect(r.status, r.stderr).toBe(0);
    expect(manifestOf(dir).weights.source).toBe('seeded random weights (seed 3)');
    expect(manifestOf(dir).weights.sha256).not.toBe(manifestOf(other).weights.sha256);
    expect(readdirSync(parent)).toEqual(['model']);
  });

  it('never replaces a folder vggc did not write: the user\'s files, the current folder, the model\'s own folder', () => {
    // A folder of the user's: refused, and left as it was.
    const mine = join(tmp, 'mine');
    mkdirSync(mine);
    writeFileSync(join(mine, 'notes.txt'), 'important');
    expect(expectUserError(vggc('compile', SMALL_CONFIG, '-q', '-o', mine))).toBe(
      `${mine}: exists and is not a folder vggc compiled (notes.txt); compiling replaces the whole folder, so give a new or empty folder, or delete it first`,
    );
    expect(readdirSync(mine)).toEqual(['notes.txt']);
    // An earlier compile with a file of the user's added to it: refused too.
    const added = join(tmp, 'added');
    cpSync(dir, added, { recursive: true });
    writeFileSync(join(added, 'labels.txt'), 'a\nb\n');
    expect(expectUserError(vggc('compile', SMALL_CONFIG, '-q', '-o', added))).toMatch(/exists and is not a folder vggc compiled \(labels\.txt\)/);
    expect(existsSync(join(added, 'labels.txt'))).toBe(true);
    // Files named like vggc's, but no vggc model.json (a TF.js model folder holds a model.json too).
    const tfjsLike = join(tmp, 'tfjs-like');
    mkdirSync(tfjsLike);
    writeFileSync(join(tfjsLike, 'model.json'), '{"modelTopology": {}}');
    expect(expectUserError(vggc('compile', SMALL_CONFIG, '-q', '-o', tfjsLike))).toMatch(/is not a folder vggc compiled \(no vggc model\.json\)/);
    // The folder the model file is in, and the current folder (`-o .`, or an empty -o).
    const own = join(tmp, 'own');
    mkdirSync(own);
    cpSync(SMALL_CONFIG, join(own, 'config.json'));
    expect(expectUserError(vggc('compile', join(own, 'config.json'), '-q', '-o', own))).toBe(`${own}: holds ${join(own, 'config.json')}, which this compile reads; compiling replaces the whole output folder, so give another folder`);
    expect(readdirSync(own)).toEqual(['config.json']);
    const inCwd = spawnSync(process.execPath, [CLI, 'compile', 'config.json', '-q', '-o', '.'], { cwd: own, encoding: 'utf8' });
    expect(expectUserError({ status: inCwd.status, stdout: inCwd.stdout, stderr: inCwd.stderr })).toBe('.: is the current folder; compiling replaces the whole output folder, so give a new or empty folder');
    expect(expectUserError(vggc('compile', SMALL_CONFIG, '-q', '-o', ''))).toBe('the output folder is an empty string; give a folder to write the model into');
    expect(readdirSync(own)).toEqual(['config.json']);
    // An empty folder is fine.
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    expect(vggc('compile', SMALL_CONFIG, '-q', '-o', empty).status).toBe(0);
    expect(existsSync(join(empty, 'model.json'))).toBe(true);
  });
});

// The model as users have it: a PyTorch checkpoint with a replaced head and a softmax-free classifier,
// compiled, summarised and run with no config file.
describe('a PyTorch checkpoint with no config', () => {
  const tmp = tempDir('vggc-cli-pth-');
  const pth = join(tmp, 'finetuned.pth');
  beforeAll(() => {
    const script = [
      'import torch, torch.nn as nn, numpy as np',
      'from torchvision.models.vgg import VGG, make_layers',
      'torch.manual_seed(3)',
      'class Small(VGG):',
      '    def __init__(self):',
      '        nn.Module.__init__(self)',
      '        self.features = make_layers([8, "M", 16, 16, "M"], batch_norm=True)',
      '        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))',
      '        self.classifier = nn.Sequential(nn.Linear(16 * 49, 12), nn.Linear(12, 4))',
      'm = Small().eval()',
      'for mod in m.modules():',
      '    if isinstance(mod, nn.BatchNorm2d):',
      '        mod.running_mean.uniform_(-0.5, 0.5); mod.running_var.uniform_(0.5, 2.0); mod.weight.data.uniform_(0.5, 1.5)',
      `torch.save({"model_state_dict": m.state_dict(), "epoch": 12}, "${pth}")`,
      'x = torch.randn(2, 3, 48, 40)',
      'with torch.no_grad(): y = m(x)',
      `np.save("${join(tmp, 'x.npy')}", x.numpy()); np.save("${join(tmp, 'y.npy')}", y.numpy())`,
    ].join('\n');
    const r = spawnSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });

  it('summary shows what was derived: BatchNorm, the 7×7 pool, a hidden layer without ReLU', () => {
    const r = vggc('summary', pth, '--input-size', '48x40');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${pth}: PyTorch checkpoint; derived config:`);
    expect(r.stdout).toContain('"blocks":[[3,1,8],[8,2,16]],"inputSize":[48,40],"batchNorm":true');
    expect(r.stdout).toContain('"classifier":[{"features":12,"relu":false}],"numClasses":4');
  });

  it('compile, then run equals PyTorch', () => {
    const out = join(tmp, 'out');
    expect(vggc('compile', pth, '--input-size', '48x40', '-q', '-o', out).status).toBe(0);
    const r = vggc('run', out, '--input', join(tmp, 'x.npy'), '--output', join(tmp, 'y-vggc.npy'));
    expect(r.status, r.stderr).toBe(0);
    expectParity(readNpy(join(tmp, 'y-vggc.npy')).data, readNpy(join(tmp, 'y.npy')).data, 4);
  });

  it('--input-size that is not HxW is a usage error; --weights with a checkpoint is a user error', () => {
    expect(vggc('compile', pth, '--input-size', '48', '-o', join(tmp, 'x')).status).toBe(2);
    expect(expectUserError(vggc('compile', pth, '-w', SMALL_WEIGHTS, '-q', '-o', join(tmp, 'y')))).toBe(`${pth}: a PyTorch checkpoint carries its own weights; do not pass --weights (${SMALL_WEIGHTS})`);
  });

  it('a hostile pickle is refused in one line and runs nothing', () => {
    const evil = join(tmp, 'evil.pth');
    const marker = join(tmp, 'PWNED');
    const script = `import pickle, os\nclass E:\n    def __reduce__(self): return (os.system, ("touch ${marker}",))\nopen("${evil}", "wb").write(pickle.dumps({"state_dict": E()}, protocol=2))`;
    expect(spawnSync('/usr/bin/python3', ['-c', script]).status).toBe(0);
    const msg = expectUserError(vggc('compile', evil, '-q', '-o', join(tmp, 'evil-out')));
    expect(msg).toMatch(new RegExp(`^${evil}: refuses global (os|posix)\\.system`));
    expect(existsSync(marker)).toBe(false);
  });
});
