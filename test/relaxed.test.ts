/**
 * The relaxed-SIMD build (model-relaxed.wasm, f32x4.relaxed_madd) in an engine that has relaxed SIMD:
 * Node 20 needs --experimental-wasm-relaxed-simd, so a child process runs it. It must match PyTorch
 * within the parity tolerance, and `auto` must pick it there and the deterministic build here.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, supportsRelaxedSimd } from '../runtime/index.js';
import { readNpy } from '../runtime/npy.js';
import { compileGolden, expectParity, GOLDEN, ROOT, tempDir } from './helpers.js';

const work = tempDir();

describe('relaxed-SIMD build', () => {
  it('is compiled beside the deterministic one, and auto picks the build the engine supports', async () => {
    const dir = await compileGolden('notebook', 'wasmsimd', work);
    const model = await loadModel(dir, { threads: 1 });
    expect(model.manifest.wasm.relaxed?.file).toBe('model-relaxed.wasm');
    // Node 20 needs --experimental-wasm-relaxed-simd; later Node versions have relaxed SIMD by default.
    const relaxed = supportsRelaxedSimd();
    expect(model.build).toBe(relaxed ? 'relaxed' : 'deterministic');
    model.dispose();
    if (!relaxed) await expect(loadModel(dir, { build: 'relaxed' })).rejects.toThrow('does not support relaxed SIMD');
  });

  it('matches PyTorch when run with relaxed SIMD enabled', async () => {
    const dir = await compileGolden('small-rect', 'wasmsimd', work);
    const out = join(work, 'relaxed-logits.json');
    const script = join(work, 'run-relaxed.mjs');
    writeFileSync(
      script,
      `import { loadModel, readNpy } from ${JSON.stringify(join(ROOT, 'dist/runtime/index.js'))};
       import { writeFileSync } from 'node:fs';
       const m = await loadModel(${JSON.stringify(dir)}, { threads: 1 });
       const x = readNpy(${JSON.stringify(join(GOLDEN, 'small-rect/input.npy'))});
       const y = await m.infer(x.data, x.shape[0]);
       writeFileSync(${JSON.stringify(out)}, JSON.stringify({ build: m.build, logits: Array.from(y) }));
       m.dispose();`,
    );
    const r = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const { build, logits } = JSON.parse((await import('node:fs')).readFileSync(out, 'utf8')) as { build: string; logits: number[] };
    expect(build).toBe('relaxed');
    const ref = readNpy(join(GOLDEN, 'small-rect/logits.npy'));
    expectParity(Float32Array.from(logits), ref.data, 10);
  });
});
