// @ts-check
/**
 * Microbenchmark behind the decision not to unroll the register tile's reduction
 * (compiler/codegen/kernels/simd.ts, docs/performance.md): the Winograd GEMM loop of one layer
 * (36 frequencies × output-channel blocks × 4-tile row groups, the same 4×8 f32x4 register tile the
 * generator emits) with the reduction unrolled 1, 2 and 4 times.
 *
 *   node --no-liftoff bench/gemm-unroll.mjs [tiles ci cop]     (default 52 512 512: VGG-11's conv4_2)
 *
 * Prints the median of 9 runs per unroll factor in GFLOP/s. Measured on the 2-vCPU EPYC of
 * README "Performance": ×1 54–57, ×2 34, ×4 33 — unrolled bodies spill accumulators (V8 hoists their loads).
 */
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { median } from './common.mjs';

const [tiles, ci, cop] = (process.argv.length > 2 ? process.argv.slice(2, 5) : ['52', '512', '512']).map(Number);
const ROWS = 4; // tiles per register tile (WINOGRAD_GEMM_ROWS)
const XI = 36;
const range = (/** @type {number} */ n) => [...Array(n).keys()];
const tilesPadded = Math.ceil(tiles / ROWS) * ROWS;
const V = 1 << 20;
const vXi = tilesPadded * ci * 4, mXi = tilesPadded * cop * 4, uXi = cop * ci * 4;
const U = V + XI * vXi, M = U + XI * uXi, END = M + XI * mXi;

/** The GEMM loop with the reduction unrolled `unroll` times, exported as run(). */
function source(/** @type {number} */ unroll) {
  const step = (/** @type {number} */ u) => [
    `{ const w0 = v128.load(k, ${u * 32}), w1 = v128.load(k, ${u * 32 + 16});`,
    ...range(ROWS).map((r) => `  const x${r} = v128.load32_splat(x, ${r * ci * 4 + u * 4}); a${r}_0 = f32x4.add(a${r}_0, f32x4.mul(x${r}, w0)); a${r}_1 = f32x4.add(a${r}_1, f32x4.mul(x${r}, w1));`),
    `}`,
  ];
  return [
    `@inline function tile(a: usize, u: usize, m: usize): void {`,
    `  const zero = f32x4.splat(0);`,
    ...range(ROWS).map((r) => `  let a${r}_0 = zero, a${r}_1 = zero;`),
    `  let x: usize = a, k: usize = u;`,
    `  for (let i = 0; i < ${ci / unroll}; i++) {`,
    ...range(unroll).flatMap(step),
    `    x += ${unroll * 4}; k += ${unroll * 32};`,
    `  }`,
    ...range(ROWS).flatMap((r) => [`  v128.store(m, a${r}_0, ${r * cop * 4});`, `  v128.store(m, a${r}_1, ${r * cop * 4 + 16});`]),
    `}`,
    `export function run(): void {`,
    `  for (let xi = 0; xi < ${XI}; xi++) for (let cb = 0; cb < ${cop / 8}; cb++) {`,
    `    const u: usize = ${U} + <usize>xi * ${uXi} + <usize>cb * ${ci * 32};`,
    `    let a: usize = ${V} + <usize>xi * ${vXi}, m: usize = ${M} + <usize>xi * ${mXi} + <usize>cb * 32;`,
    `    for (let t = 0; t < ${tiles}; t += ${ROWS}) { tile(a, u, m); a += ${ROWS * ci * 4}; m += ${ROWS * cop * 4}; }`,
    `  }`,
    `}`,
  ].join('\n');
}

const asc = await import('assemblyscript/asc');
const dir = mkdtempSync(join(tmpdir(), 'vggc-gemm-'));
try {
  for (const unroll of [1, 2, 4]) {
    writeFileSync(join(dir, 'gemm.ts'), source(unroll));
    const { error, stderr } = await asc.main(['gemm.ts', '--baseDir', dir, '--outFile', 'gemm.wasm', '-O3', '--runtime', 'stub', '--noAssert', '--enable', 'simd', '--initialMemory', String(Math.ceil(END / 65536))]);
    if (error) throw new Error(`asc: ${error.message}\n${stderr.toString()}`);
    const { instance } = await WebAssembly.instantiate(readFileSync(join(dir, 'gemm.wasm')));
    const memory = /** @type {WebAssembly.Memory} */ (instance.exports.memory);
    new Float32Array(memory.buffer).forEach((_, i, a) => (a[i] = (i % 7) * 0.1));
    const run = /** @type {() => void} */ (instance.exports.run);
    for (let i = 0; i < 3; i++) run();
    const times = range(9).map(() => { const t = performance.now(); run(); return performance.now() - t; });
    const ms = median(times);
    console.log(`tiles ${tiles}, Cin ${ci}, Cout ${cop}, unroll ×${unroll}: ${ms.toFixed(2)} ms, ${((2 * tilesPadded * XI * ci * cop) / ms / 1e6).toFixed(1)} GFLOP/s`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
