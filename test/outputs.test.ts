/**
 * Named outputs against torchvision's create_feature_extractor (tools/torch_features.py, ReLUs
 * made out-of-place so a pre-ReLU tap stays pre-ReLU): VGG-11/16/19 with and without BatchNorm,
 * taps before and after ReLU, the pre-pool map at a block end, avgpool, fc6/fc7 and logits, asked
 * for by torchvision's, the notebook's and the conventional names; batches and 2 threads; the
 * deterministic and the relaxed build. Each output within 1e-4·max|y| of PyTorch's.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readConfigFile } from '../compiler/frontend/config/parse.js';
import { compileModel, planFromConfig } from '../compiler/pipeline.js';
import { loadModel } from '../runtime/index.js';
import { readNpy } from '../runtime/npy.js';
import { rejection, ROOT, tempDir, TOLERANCE } from './helpers.js';

const work = tempDir('vggc-outputs-');

/** vggc's name for a tap → torchvision's node name (what create_feature_extractor returns). */
interface Case {
  readonly arch: 'vgg11' | 'vgg16' | 'vgg19';
  readonly bn: boolean;
  readonly size: readonly [number, number];
  readonly taps: Readonly<Record<string, string>>;
}

const CASES: Record<string, Case> = {
  // LPIPS's five taps, by torchvision's module names and the conventional ones.
  'vgg16 LPIPS taps': { arch: 'vgg16', bn: false, size: [64, 64], taps: { 'features.3': 'features.3', relu2_2: 'features.8', relu3_3: 'features.15', 'features.22': 'features.22', relu5_3: 'features.29' } },
  // Gatys's style (convB_1 after ReLU) and content (conv4_2, before ReLU) layers of VGG-19.
  'vgg19 style transfer': { arch: 'vgg19', bn: false, size: [48, 64], taps: { relu1_1: 'features.1', relu2_1: 'features.6', relu3_1: 'features.11', relu4_1: 'features.20', conv4_2: 'features.21', relu5_1: 'features.29' } },
  // A pre-ReLU tap at a block end (ReLU and pool split), the pooled map, the classifier.
  'vgg11 classifier taps': { arch: 'vgg11', bn: false, size: [32, 32], taps: { conv3_2: 'features.8', pool3: 'features.10', avgpool: 'avgpool', fc6_pre: 'classifier.0', fc6: 'classifier.1', 'classifier.4': 'classifier.4', logits: 'classifier.6' } },
  // BatchNorm: convB_J is after the BatchNorm; the notebook's names too.
  'vgg11_bn taps': { arch: 'vgg11', bn: true, size: [32, 48], taps: { conv1_1: 'features.1', 'conv_backbone.features.2.conv_block.5': 'features.13', relu3_2: 'features.13', pool5: 'features.28', flatten: 'flatten', fc7: 'classifier.4' } },
  'vgg16_bn features': { arch: 'vgg16', bn: true, size: [32, 32], taps: { relu2_2: 'features.12', conv4_3: 'features.31', relu4_3: 'features.32' } },
  'vgg19_bn features': { arch: 'vgg19', bn: true, size: [32, 32], taps: { conv3_4: 'features.24', pool4: 'features.39' } },
};

function reference(name: string, c: Case): string {
  const dir = join(work, name.replace(/\W+/g, '-'));
  const nodes = [...new Set(Object.values(c.taps))];
  const r = spawnSync('/usr/bin/python3', [join(ROOT, 'tools/torch_features.py'), '--arch', c.arch, ...(c.bn ? ['--bn'] : []), '--out', dir, '--nodes', nodes.join(','), '--batch', '3', '--size', String(c.size[0]), String(c.size[1])], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return dir;
}

function expectClose(got: Float32Array, shape: readonly number[], want: ReturnType<typeof readNpy>, what: string): void {
  expect(shape, what).toEqual(want.shape);
  let diff = 0;
  let max = 0;
  for (let i = 0; i < want.data.length; i++) {
    diff = Math.max(diff, Math.abs(got[i] - want.data[i]));
    max = Math.max(max, Math.abs(want.data[i]));
  }
  expect(max, `${what}: the reference is all zero`).toBeGreaterThan(0);
  expect(diff / max, what).toBeLessThanOrEqual(TOLERANCE);
}

describe.each(Object.entries(CASES))('%s', (name, c) => {
  it('every output matches create_feature_extractor, on 1 and 2 threads, batch 3', async () => {
    const ref = reference(name, c);
    // Two names of one tensor (vgg11_bn) are one output: ask for each name once, by the first.
    const asked = Object.keys(c.taps).filter((k, i, all) => all.findIndex((o) => c.taps[o] === c.taps[k]) === i);
    const outDir = join(ref, 'vggc');
    await compileModel({ configPath: join(ref, 'model.pth'), outDir, inputSize: c.size, outputs: asked });
    const x = readNpy(join(ref, 'input.npy'));
    for (const threads of [1, 2]) {
      const model = await loadModel(outDir, { threads, build: 'deterministic' });
      expect(model.outputs.map((o) => o.name)).toEqual(asked);
      const all = await model.inferAll(x.data, 3);
      for (const tap of asked) expectClose(all[tap].data, all[tap].shape, readNpy(join(ref, `${c.taps[tap]}.npy`)), `${name} ${tap}, ${threads} thread(s)`);
      // infer() returns the first output.
      expect(Array.from(await model.infer(x.data, 3))).toEqual(Array.from(all[asked[0]].data));
      model.dispose();
    }
  });
});

describe('the relaxed-SIMD build', () => {
  it('gives the same outputs within tolerance (Node 20 needs --experimental-wasm-relaxed-simd: a child process)', async () => {
    const c = CASES['vgg11 classifier taps'];
    const ref = reference('vgg11 classifier taps relaxed', c);
    const outDir = join(ref, 'vggc');
    await compileModel({ configPath: join(ref, 'model.pth'), outDir, inputSize: c.size, outputs: Object.keys(c.taps) });
    const script = join(work, 'relaxed.mjs');
    const out = join(work, 'relaxed.json');
    writeFileSync(script, `import { loadModel, readNpy } from ${JSON.stringify(join(ROOT, 'dist/runtime/index.js'))};
      import { writeFileSync } from 'node:fs';
      const m = await loadModel(${JSON.stringify(outDir)}, { threads: 2, build: 'relaxed' });
      const x = readNpy(${JSON.stringify(join(ref, 'input.npy'))});
      const all = await m.inferAll(x.data, 3);
      writeFileSync(${JSON.stringify(out)}, JSON.stringify({ build: m.build, outputs: Object.fromEntries(Object.entries(all).map(([k, v]) => [k, { shape: v.shape, data: Array.from(v.data) }])) }));
      m.dispose();`);
    const r = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const { build, outputs } = JSON.parse(readFileSync(out, 'utf8')) as { build: string; outputs: Record<string, { shape: number[]; data: number[] }> };
    expect(build).toBe('relaxed');
    for (const [tap, node] of Object.entries(c.taps)) expectClose(Float32Array.from(outputs[tap].data), outputs[tap].shape, readNpy(join(ref, `${node}.npy`)), `relaxed ${tap}`);
  });
});

describe('a backbone is cut after its last output', () => {
  it('relu4_3 of VGG-16 compiles and packs no classifier: its weights are a fraction of the whole', async () => {
    const config = join(ROOT, 'examples/vgg16.json');
    const { manifest } = await compileModel({ configPath: config, outDir: join(work, 'cut'), outputs: ['relu4_3'] });
    const full = planFromConfig(readConfigFile(config), config);
    expect(manifest.steps.some((s) => s.kind === 'linear')).toBe(false);
    expect(manifest.weights.tensors.some((t) => t.key.startsWith('classifier.') || t.key === 'features.24.weight')).toBe(false);
    const bytes = manifest.weights.shards.reduce((n, s) => n + statSync(join(work, 'cut', s.file)).size, 0);
    // VGG-16's convolutions up to conv4_3 hold 7.6 M parameters of 138 M.
    expect(bytes).toBeLessThan(full.weights.payloadBytes / 5);
    expect(manifest.totals.params).toBe(7_635_264);
    expect(manifest.outputs).toEqual([expect.objectContaining({ name: 'relu4_3', shape: [512, 28, 28], layout: 'nchw', phase: 'image' })]);
  });
});

describe('output names that are wrong', () => {
  const config = join(ROOT, 'examples/vgg11.json');
  const attempt = (outputs: string[]) => rejection(compileModel({ configPath: config, outDir: join(work, 'bad'), outputs }));
  it('an unknown name lists the names near it', async () => {
    expect(await attempt(['relu4_3'])).toBe(`${config}: unknown output "relu4_3"; names near it: relu4_1, relu4_2, relu1_1, relu2_1, relu3_1 (vggc summary lists every layer's names)`);
  });
  it('the same tensor twice, by two names', async () => {
    expect(await attempt(['relu1_1', 'features.1'])).toBe(`${config}: output "features.1" is the same tensor as "relu1_1", asked for already`);
  });
  it('a name after the logits', async () => {
    expect(await attempt(['classifier.7'])).toBe(`${config}: output "classifier.7" is after the logits (classifier.6, the last layer)`);
  });
  it("a BatchNorm model's convolution before its BatchNorm", async () => {
    const bn = join(ROOT, 'examples/vgg11_bn.json');
    expect(await rejection(compileModel({ configPath: bn, outDir: join(work, 'bad-bn'), outputs: ['features.0'] }))).toBe(
      `${bn}: output "features.0" is a convolution's output before its BatchNorm, which vggc does not compute; ask for conv1_1 (after its BatchNorm, which vggc folds into the convolution)`,
    );
  });
});

describe('the CLI: compile --outputs, run --outputs-dir, summary', () => {
  const taps = { 'features.2': 'features.2', relu2_1: 'features.4', 'classifier.4': 'classifier.4' };
  const cli = (...args: string[]) => spawnSync(process.execPath, [join(ROOT, 'dist/compiler/cli.js'), ...args], { cwd: ROOT, encoding: 'utf8' });

  it('writes <dir>/<name>.npy for every output, as PyTorch computes them; --output keeps the first', () => {
    const ref = reference('cli', { arch: 'vgg11', bn: false, size: [32, 32], taps });
    const outDir = join(ref, 'vggc');
    const compiled = cli('compile', join(ref, 'model.pth'), '-o', outDir, '--input-size', '32x32', '--outputs', Object.keys(taps).join(','));
    expect(compiled.status, compiled.stderr).toBe(0);
    expect(compiled.stdout).toContain('outputs             features.2 [64×16×16], relu2_1 [128×16×16], classifier.4 [4096]');
    const files = join(ref, 'npy');
    const run = cli('run', outDir, '-i', join(ref, 'input.npy'), '--outputs-dir', files, '-o', join(ref, 'first.npy'));
    expect(run.status, run.stderr).toBe(0);
    for (const [name, node] of Object.entries(taps)) {
      const got = readNpy(join(files, `${name}.npy`));
      expectClose(got.data, got.shape, readNpy(join(ref, `${node}.npy`)), `run --outputs-dir ${name}`);
    }
    expect(Array.from(readNpy(join(ref, 'first.npy')).data)).toEqual(Array.from(readNpy(join(files, 'features.2.npy')).data));
  });

  it('summary names every layer, marks the outputs, says where fusion was split, and stops at the cut', () => {
    const ref = join(work, 'cli');
    const r = cli('summary', join(ref, 'model.pth'), '--input-size', '32x32', '--outputs', Object.keys(taps).join(','));
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('fusion split: conv2_1: max-pool not fused (relu2_1 is an output)');
    expect(r.stdout).toMatch(/ relu2_1 +\[128, 16, 16\] +features\.4, conv_backbone\.features\.1\.conv_block\.1 +← output "relu2_1"/);
    expect(r.stdout).toMatch(/ fc7 +\[4096\] +classifier\.4, classifier\.5 +← output "classifier\.4"/);
    expect(r.stdout).not.toMatch(/ logits /);
  });
});
