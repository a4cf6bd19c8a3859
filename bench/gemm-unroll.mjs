// @ts-check
/**
 * Microbenchmark behind the register tile and the decision not to unroll its reduction
 * (compiler/codegen/kernels/simd.ts, docs/performance.md): the Winograd GEMM loop of one layer
 * (36 frequencies × output-channel blocks × row groups of tiles, the f32x4 register tile the generator
 * emits: ROWS tiles × 8 channels) with the reduction unrolled 1, 2 and 4 times, and wider tiles of
 * 12 channels (three f32x4 accumulators per row) with --cols 12.
 *
 *   node --no-liftoff bench/gemm-unroll.mjs [tiles ci cop] [--rows 4,6,8] [--cols 8,12] [--unroll 1,2,4] [--browser chromium|firefox]
 *
 * (default 52 512 512: VGG-11's conv4_2; rows 4.) The modules are compiled here (AssemblyScript) and
 * timed in this process — Node, Deno (`deno run -A --v8-flags=--no-liftoff`) or Bun — or, with
 * --browser, in a headless page of Debian's chromium or firefox-esr. Prints the median of 9 runs per
 * variant in GFLOP/s. Measured on the 2-vCPU EPYC of README "Performance", V8 11.3: 4×8 ×1 54–57,
 * ×2 34, ×4 33 — unrolled bodies spill accumulators (V8 hoists their loads). Other engines:
 * docs/performance.md.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { importDist, ROOT } from './common.mjs';

/** The compiler's own AssemblyScript step: a model's flags (SIMD, shared imported memory, -O3). */
const { compileAssemblyScript } = await importDist('compiler/assemble/asc.js');

const { values: flags, positionals } = parseArgs({ allowPositionals: true, options: { rows: { type: 'string', default: '4' }, cols: { type: 'string', default: '8' }, unroll: { type: 'string', default: '1,2,4' }, browser: { type: 'string' } } });
const [tiles, ci, cop] = (positionals.length ? positionals.slice(0, 3) : ['52', '512', '512']).map(Number);
const ROW_CHOICES = flags.rows.split(',').map(Number); // tiles per register tile (WINOGRAD_GEMM_ROWS is 4)
const COL_CHOICES = flags.cols.split(',').map(Number); // output channels per register tile: 8 (what vggc emits) or 12
if (COL_CHOICES.some((c) => c % 4 !== 0 || c < 4)) throw new Error(`--cols: multiples of 4 expected, got ${flags.cols}`);
const UNROLLS = flags.unroll.split(',').map(Number);
const XI = 36;
const range = (/** @type {number} */ n) => [...Array(n).keys()];
// Memory laid out for the widest tile asked for, so every variant runs on the same addresses.
const tilesPadded = Math.ceil(tiles / Math.max(...ROW_CHOICES)) * Math.max(...ROW_CHOICES);
const V = 1 << 20;
const vXi = tilesPadded * ci * 4, mXi = tilesPadded * cop * 4, uXi = cop * ci * 4;
const U = V + XI * vXi, M = U + XI * uXi, END = M + XI * mXi;

/** The GEMM loop with the reduction unrolled `unroll` times, ROWS × COLS register tiles, exported as run(). */
function source(/** @type {number} */ unroll, /** @type {number} */ ROWS, /** @type {number} */ COLS = 8) {
  const halves = range(COLS / 4); // f32x4 accumulators per row (two for the 8-channel tile vggc emits)
  const step = (/** @type {number} */ u) => [
    `{ ${halves.map((h) => `const w${h} = v128.load(k, ${u * COLS * 4 + h * 16});`).join(' ')}`,
    ...range(ROWS).map((r) => `  const x${r} = v128.load32_splat(x, ${r * ci * 4 + u * 4}); ${halves.map((h) => `a${r}_${h} = f32x4.add(a${r}_${h}, f32x4.mul(x${r}, w${h}));`).join(' ')}`),
    `}`,
  ];
  return [
    `@inline function tile(a: usize, u: usize, m: usize): void {`,
    `  const zero = f32x4.splat(0);`,
    ...range(ROWS).map((r) => `  let ${halves.map((h) => `a${r}_${h} = zero`).join(', ')};`),
    `  let x: usize = a, k: usize = u;`,
    `  for (let i = 0; i < ${ci / unroll}; i++) {`,
    ...range(unroll).flatMap(step),
    `    x += ${unroll * 4}; k += ${unroll * COLS * 4};`,
    `  }`,
    ...range(ROWS).flatMap((r) => halves.map((h) => `  v128.store(m, a${r}_${h}, ${r * cop * 4 + h * 16});`)),
    `}`,
    `export function run(): void {`,
    `  for (let xi = 0; xi < ${XI}; xi++) for (let cb = 0; cb < ${Math.floor(cop / COLS)}; cb++) {`,
    `    const u: usize = ${U} + <usize>xi * ${uXi} + <usize>cb * ${ci * COLS * 4};`,
    `    let a: usize = ${V} + <usize>xi * ${vXi}, m: usize = ${M} + <usize>xi * ${mXi} + <usize>cb * ${COLS * 4};`,
    `    for (let t = 0; t < ${tiles}; t += ${ROWS}) { tile(a, u, m); a += ${ROWS * ci * 4}; m += ${ROWS * cop * 4}; }`,
    `  }`,
    `}`,
  ].join('\n');
}

/**
 * Instantiates `bytes` with a shared memory of `pages` (imported, as a model's is), fills it, runs it
 * 3 times untimed and 9 times timed; the median ms. Self-contained: it is also sent to a browser page
 * (cross-origin isolated, so that shared memory exists there) as source.
 * @param {number[]} bytes
 * @param {number} pages
 */
async function timeModule(bytes, pages) {
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  const { instance } = await WebAssembly.instantiate(new Uint8Array(bytes), { env: { memory } });
  new Float32Array(memory.buffer).forEach((_, i, a) => (a[i] = (i % 7) * 0.1));
  const run = /** @type {() => void} */ (instance.exports.run);
  for (let i = 0; i < 3; i++) run();
  const times = [];
  for (let i = 0; i < 9; i++) {
    const t = performance.now();
    run();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[4];
}

/** Runs `timeModule` in a headless page of `kind`, served cross-origin isolated like the tests'. */
async function browserTimer(kind) {
  const { startServer } = await import(join(ROOT, 'tools/serve.mjs'));
  const server = await startServer({ root: ROOT, port: 0, isolate: true });
  let page, version, close;
  if (kind === 'firefox') {
    const puppeteer = (await import('puppeteer-core')).default;
    const browser = await puppeteer.launch({ browser: 'firefox', executablePath: process.env.VGGC_FIREFOX ?? '/usr/lib/firefox-esr/firefox-esr', protocol: 'webDriverBiDi', headless: true, protocolTimeout: 600_000 });
    page = await browser.newPage();
    version = await browser.version();
    close = () => browser.close();
  } else {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: process.env.VGGC_CHROMIUM ?? '/usr/lib/chromium/chromium', headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
    page = await browser.newPage();
    version = `chromium/${browser.version()}`;
    close = () => browser.close();
  }
  await page.goto(`${server.url}/test/browser/page.html`);
  return {
    version,
    time: (/** @type {number[]} */ bytes, /** @type {number} */ pages) => page.evaluate(`(${timeModule.toString()})(${JSON.stringify(bytes)}, ${pages})`),
    close: async () => {
      await close();
      await server.close();
    },
  };
}

const g = /** @type {any} */ (globalThis);
const timer = flags.browser ? await browserTimer(flags.browser) : { version: g.Deno ? `Deno ${g.Deno.version.deno} (V8 ${g.Deno.version.v8})` : g.Bun ? `Bun ${g.Bun.version} (JavaScriptCore)` : `Node ${process.version} (V8 ${process.versions.v8})`, time: (/** @type {number[]} */ b, /** @type {number} */ pages) => timeModule(b, pages), close: async () => {} };
console.log(`${timer.version}: Winograd GEMM, ${tiles} tiles, Cin ${ci}, Cout ${cop}`);
const pages = Math.ceil(END / 65536);
try {
  for (const cols of COL_CHOICES) {
    for (const rows of ROW_CHOICES) {
      for (const unroll of UNROLLS) {
        const { wasm } = await compileAssemblyScript(source(unroll, rows, cols), { memoryPages: pages });
        const ms = await timer.time(Array.from(wasm), pages);
        const padded = Math.ceil(tiles / rows) * rows;
        const channels = Math.floor(cop / cols) * cols; // output channels the panels cover
        console.log(`  ${rows}×${cols} tile, unroll ×${unroll}: ${ms.toFixed(2)} ms, ${((2 * padded * XI * ci * channels) / ms / 1e6).toFixed(1)} GFLOP/s`);
      }
    }
  }
} finally {
  await timer.close();
}
