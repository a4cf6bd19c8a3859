// @ts-check
/**
 * Timing-only builds: a copy of a compiled model folder whose Winograd layers skip one part of their
 * work, so that `bench/ab.mjs` (one against the other, step by step) shows what that part costs. The
 * tables in docs/performance.md that split a layer into input transform, GEMMs and output transform
 * ("Where a Winograd layer's time goes now") come from these. Their outputs are wrong by design:
 * never use such a folder for anything but timing.
 *
 *   npm run build && node bench/timing-build.mjs SRC_DIR DST_DIR --drop gemm|input|output
 *   node tools/runtimes/exec.mjs node24 bench/ab.mjs SRC_DIR DST_DIR --rounds 25
 *
 * The generated model.ts is edited (the calls to the dropped part become empty statements) and
 * assembled again with the compiler's own asc and binaryen steps and the folder's memory size and
 * wasm tag; the weight files are symbolic links to the source folder's.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { importDist } from './common.mjs';

/** What each --drop removes from the generated code: the calls, matched line by line. */
const EDITS = {
  // `Lnn_gemm4x8(a, u, m);` in the register-tile loops and `if (tiles == 19) Lnn_gemm4x8(…);` tails,
  // and the prefetch touches that only serve them.
  gemm: (/** @type {string} */ s) =>
    s
      .replace(/^(\s*)(L\d\d_gemm\dx8\([^)]*\);)/gm, '$1{} // $2')
      .replace(/(if \(tiles == \d+\) )(L\d\d_gemm\dx8\([^)]*\);)/g, '$1{}')
      .replace(/^(\s*)(touchLines\([^;]*;)/gm, '$1{} // $2'),
  // `for (let c = 0; c < Lnn_CI; c += 4) Lnn_inputTransform(…);` (or `< Lnn_KC` for a chunked layer)
  input: (/** @type {string} */ s) => s.replace(/^(\s*for \(let c = 0; c < L\d\d_(?:CI|KC); c \+= 4\) )(L\d\d_inputTransform\([^;]*;)/gm, '$1{}'),
  // `for (let c = cb0 * 8; c < cb1 * 8; c += 4) Lnn_outputTransform(…);`
  output: (/** @type {string} */ s) => s.replace(/^(\s*for \(let c = cb0 \* 8; c < cb1 \* 8; c \+= 4\) )(L\d\d_outputTransform\([^;]*;)/gm, '$1{}'),
};

const { values, positionals } = parseArgs({ allowPositionals: true, options: { drop: { type: 'string' } } });
const drop = /** @type {keyof typeof EDITS | undefined} */ (values.drop);
if (positionals.length !== 2 || !drop || !(drop in EDITS)) {
  console.error(`usage: node bench/timing-build.mjs SRC_DIR DST_DIR --drop ${Object.keys(EDITS).join('|')}`);
  process.exit(2);
}
const [src, dst] = positionals.map((p) => resolve(p));
if (src === dst) {
  console.error('timing-build: DST_DIR must differ from SRC_DIR (it is replaced)');
  process.exit(2);
}
const { compileAssemblyScript } = await importDist('compiler/assemble/asc.js');
const { finishModule } = await importDist('compiler/assemble/binaryen.js');
const { readWasmTag, relaxedTwinTag } = await importDist('runtime/format/wasm-tag.js');

const manifest = JSON.parse(readFileSync(join(src, 'model.json'), 'utf8'));
const original = readFileSync(join(src, 'model.ts'), 'utf8');
const source = EDITS[drop](original);
const edited = source.split('\n').filter((line, i) => line !== original.split('\n')[i]).length;
if (edited === 0) {
  console.error(`timing-build: nothing to drop in ${join(src, 'model.ts')} (no Winograd ${drop} calls found)`);
  process.exit(1);
}

rmSync(dst, { recursive: true, force: true });
mkdirSync(dst, { recursive: true });
for (const f of readdirSync(src)) if (f.startsWith('weights')) symlinkSync(join(src, f), join(dst, f));
writeFileSync(join(dst, 'model.ts'), source);
const tag = readWasmTag(new WebAssembly.Module(readFileSync(join(src, 'model.wasm'))), 'model.wasm');
/** Assembles the edited source like the compiler does and records the new file's size and hash. */
async function assemble(/** @type {boolean} */ relaxed) {
  const raw = (await compileAssemblyScript(source, { memoryPages: manifest.memory.pages, relaxed })).wasm;
  const wasm = finishModule(raw, relaxed ? relaxedTwinTag(tag) : tag);
  const entry = relaxed ? manifest.wasm.relaxed : manifest.wasm;
  writeFileSync(join(dst, relaxed ? 'model-relaxed.wasm' : 'model.wasm'), wasm);
  entry.bytes = wasm.length;
  entry.sha256 = createHash('sha256').update(wasm).digest('hex');
}
await assemble(false);
if (manifest.wasm.relaxed) await assemble(true);
writeFileSync(join(dst, 'model.json'), JSON.stringify(manifest, null, 2));
console.log(`${dst}: ${edited} line(s) of model.ts changed (--drop ${drop}); timing only, its outputs are wrong`);
