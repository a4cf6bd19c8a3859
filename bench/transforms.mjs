// @ts-check
/**
 * The Winograd transforms of a compiled model, each timed alone: the generated
 * `Lnn_inputTransform` / `Lnn_outputTransform` functions (model.ts) in a loop, one call after another
 * on the same operands, so that their data stays in cache and what is left is the transform itself
 * and where its strided loads and stores fall in the cache. The tool behind "L1 set conflicts in the
 * transforms" in docs/performance.md; compare two compiled folders to see a change.
 *
 *   npm run build && node --no-liftoff bench/transforms.mjs DIR [DIR2 …]
 *
 * Prints ns per call (best of 15 runs of 64,000 calls) for every Winograd layer of each folder.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { importDist } from './common.mjs';

const { compileAssemblyScript } = await importDist('compiler/assemble/asc.js');
const { HELPERS_MODULE } = await importDist('compiler/codegen/module.js');

const CALLS = 64_000;
const RUNS = 15;
/** Where the operands start: above the run parameters, like a model's arena. */
const SOURCE_ADDRESS = 65536;
const WASM_PAGE = 65536;

/** Every `@inline function Lnn_{input,output}Transform(…) { … }` of a model.ts, with its name and text. */
function transformsOf(/** @type {string} */ source) {
  return [...source.matchAll(/\/\/ @ts-ignore: decorator\n@inline function (L\d\d_(?:input|output)Transform)\(([^)]*)\)[^\n]*\n[\s\S]*?\n\}\n/g)].map((m) => ({ name: m[1], params: m[2], text: m[0] }));
}

/** The largest byte offset the function reads or writes at (its literal offsets), plus one vector. */
const extentOf = (/** @type {string} */ text) => Math.max(...[...text.matchAll(/, (\d+)\);/g)].map((m) => Number(m[1]))) + 16;

/** Times one transform function: best ns per call. */
async function timeTransform(/** @type {{ name: string, params: string, text: string }} */ t) {
  const extent = extentOf(t.text);
  const dest = SOURCE_ADDRESS + Math.ceil(extent / WASM_PAGE + 1) * WASM_PAGE;
  const pages = Math.ceil((dest + extent) / WASM_PAGE) + 1;
  const output = t.name.endsWith('outputTransform');
  // Output transforms take (src, bias, out, rows, cols): every pixel of the tile stored.
  const call = output ? `${t.name}(${SOURCE_ADDRESS}, f32x4.splat(0.5), ${dest}, 8, 8)` : `${t.name}(${SOURCE_ADDRESS}, ${dest})`;
  const source = [`import { relu4, max4 } from './${HELPERS_MODULE}';`, t.text, `export function run(calls: i32): void {`, `  for (let i = 0; i < calls; i++) ${call};`, `}`].join('\n');
  const { wasm } = await compileAssemblyScript(source, { memoryPages: pages });
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const instance = await WebAssembly.instantiate(await WebAssembly.compile(new Uint8Array(wasm)), { env: { memory } });
  // Small normal values: no subnormal slow paths, and the results stay finite call after call.
  new Float32Array(memory.buffer).fill(0.1);
  const run = /** @type {(calls: number) => void} */ (instance.exports.run);
  run(CALLS / 10);
  let best = Infinity;
  for (let r = 0; r < RUNS; r++) {
    const start = performance.now();
    run(CALLS);
    best = Math.min(best, performance.now() - start);
  }
  return (best * 1e6) / CALLS;
}

const dirs = process.argv.slice(2);
if (dirs.length === 0) {
  console.error('usage: node --no-liftoff bench/transforms.mjs DIR [DIR2 …]   (folders written by vggc compile)');
  process.exit(2);
}
for (const dir of dirs) {
  const transforms = transformsOf(readFileSync(join(dir, 'model.ts'), 'utf8'));
  if (transforms.length === 0) console.log(`${dir}: no Winograd layers`);
  for (const t of transforms) console.log(`${dir}: ${t.name.padEnd(20)} ${(await timeTransform(t)).toFixed(1).padStart(7)} ns per call`);
}
