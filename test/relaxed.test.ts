/**
 * The relaxed-SIMD build (model-relaxed.wasm, f32x4.relaxed_madd) in an engine that has relaxed SIMD:
 * Node 20 needs --experimental-wasm-relaxed-simd, so a child process runs it. It must match PyTorch
 * within the parity tolerance. `fastest` (alias `auto`) picks it where the engine has it; the default never does.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, supportsRelaxedSimd } from '../runtime/index.js';
import { readNpy } from '../runtime/npy.js';
import { compileGolden, expectParity, GOLDEN, rejection, ROOT, tempDir } from './helpers.js';

const work = tempDir();

describe('relaxed-SIMD build', () => {
  it('is compiled beside the deterministic one; the default is deterministic, fastest/auto pick what the engine supports', async () => {
    const dir = await compileGolden('notebook', 'wasmsimd', work);
    const model = await loadModel(dir, { threads: 1 });
    expect(model.manifest.wasm.relaxed?.file).toBe('model-relaxed.wasm');
    // Without `build`, every engine runs model.wasm, whatever it supports.
    expect(model.build).toBe('deterministic');
    model.dispose();
    // Node 20 needs --experimental-wasm-relaxed-simd; later Node versions have relaxed SIMD by default.
    const relaxed = supportsRelaxedSimd();
    for (const build of ['fastest', 'auto'] as const) {
      const m = await loadModel(dir, { threads: 1, build });
      expect(m.build, build).toBe(relaxed ? 'relaxed' : 'deterministic');
      m.dispose();
    }
    if (!relaxed) expect(await rejection(loadModel(dir, { build: 'relaxed' }))).toMatch('does not support relaxed SIMD');
    expect(await rejection(loadModel(dir, { build: 'fast' as never }))).toBe(`loadModel: build must be 'deterministic', 'relaxed', 'fastest', 'auto', found "fast"`);
  });

  it('matches PyTorch when run with relaxed SIMD enabled', async () => {
    const dir = await compileGolden('small-rect', 'wasmsimd', work);
    const out = join(work, 'relaxed-logits.json');
    const script = join(work, 'run-relaxed.mjs');
    writeFileSync(
      script,
      `import { loadModel, readNpy } from ${JSON.stringify(join(ROOT, 'dist/runtime/index.js'))};
       import { writeFileSync } from 'node:fs';
       const m = await loadModel(${JSON.stringify(dir)}, { threads: 1, build: 'relaxed' });
       const x = readNpy(${JSON.stringify(join(GOLDEN, 'small-rect/input.npy'))});
       const y = await m.infer(x.data, x.shape[0]);
       writeFileSync(${JSON.stringify(out)}, JSON.stringify({ build: m.build, logits: Array.from(y) }));
       m.dispose();`,
    );
    // Node 20 needs the flag; Node ≥ 22 has relaxed SIMD by default and refuses the flag as unknown.
    const flags = supportsRelaxedSimd() ? [] : ['--experimental-wasm-relaxed-simd'];
    const r = spawnSync(process.execPath, [...flags, script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const { build, logits } = JSON.parse((await import('node:fs')).readFileSync(out, 'utf8')) as { build: string; logits: number[] };
    expect(build).toBe('relaxed');
    const ref = readNpy(join(GOLDEN, 'small-rect/logits.npy'));
    expectParity(Float32Array.from(logits), ref.data, 10);
  });
});
