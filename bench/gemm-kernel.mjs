// @ts-check
/**
 * The Winograd GEMM's register tile as AssemblyScript source, for the microbenchmarks that time it
 * outside a model: bench/gemm-unroll.mjs (tile shape and unrolling) and bench/ceiling.mjs (the
 * f32x4 compute ceiling the benchmark's roofline draws). It is the loop the generator emits
 * (compiler/codegen/kernels/winograd-transforms.ts): ROWS tiles × 8 output channels, one f32x4
 * `mul` and one `add` per accumulator update (no fused multiply-add: the deterministic build).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const range = (/** @type {number} */ n) => [...Array(n).keys()];

/**
 * `@inline function tile(a, u, m)`: C[rows × 8] = A[rows × ci] · B[ci × 8], A's rows `ci` floats
 * apart, B packed 8 floats per reduction step, C's rows `cop` floats apart; the reduction unrolled
 * `unroll` times.
 * @param {{ rows: number, unroll: number, ci: number, cop: number }} shape
 */
export function registerTileSource({ rows, unroll, ci, cop }) {
  const step = (/** @type {number} */ u) => [
    `{ const w0 = v128.load(k, ${u * 32}), w1 = v128.load(k, ${u * 32 + 16});`,
    ...range(rows).map((r) => `  const x${r} = v128.load32_splat(x, ${r * ci * 4 + u * 4}); a${r}_0 = f32x4.add(a${r}_0, f32x4.mul(x${r}, w0)); a${r}_1 = f32x4.add(a${r}_1, f32x4.mul(x${r}, w1));`),
    `}`,
  ];
  return [
    `@inline function tile(a: usize, u: usize, m: usize): void {`,
    `  const zero = f32x4.splat(0);`,
    ...range(rows).map((r) => `  let a${r}_0 = zero, a${r}_1 = zero;`),
    `  let x: usize = a, k: usize = u;`,
    `  for (let i = 0; i < ${ci / unroll}; i++) {`,
    ...range(unroll).flatMap(step),
    `    x += ${unroll * 4}; k += ${unroll * 32};`,
    `  }`,
    ...range(rows).flatMap((r) => [`  v128.store(m, a${r}_0, ${r * cop * 4});`, `  v128.store(m, a${r}_1, ${r * cop * 4 + 16});`]),
    `}`,
  ].join('\n');
}

/**
 * Compiles AssemblyScript source to a wasm binary with the flags vggc's models are built with
 * (-O3, SIMD, no runtime).
 * @param {string} source
 * @param {number} memoryBytes  initial memory the source addresses
 * @returns {Promise<Uint8Array>}
 */
export async function compileAssemblyScript(source, memoryBytes) {
  const asc = await import('assemblyscript/asc');
  const dir = mkdtempSync(join(tmpdir(), 'vggc-gemm-'));
  try {
    writeFileSync(join(dir, 'gemm.ts'), source);
    const { error, stderr } = await asc.main(['gemm.ts', '--baseDir', dir, '--outFile', 'gemm.wasm', '-O3', '--runtime', 'stub', '--noAssert', '--enable', 'simd', '--initialMemory', String(Math.ceil(memoryBytes / 65536))]);
    if (error) throw new Error(`asc: ${error.message}\n${stderr.toString()}`);
    return new Uint8Array(readFileSync(join(dir, 'gemm.wasm')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
