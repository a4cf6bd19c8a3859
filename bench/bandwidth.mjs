// @ts-check
/**
 * What memory bandwidth a wasm loop gets on this machine, on one core and on two: the speed a
 * memory-bound layer such as VGG's fc1 (411 MB of f32 weights read once per batch at batch 1) can
 * reach at most. Each of 1 or 2 worker_threads sums its share of a 411 MB buffer in one shared
 * wasm memory with f32x4 loads, from one sequential stream or from four streams a quarter of its
 * share apart (as fc1 streams four weight panels at once), all threads at once. Prints the minimum
 * and median GB/s over the rounds, to compare with fc1's own rate (`bench/threads.mjs` prints
 * fc1's time; 411 MB / time) — docs/performance.md "fc1 at memory speed".
 *
 *   node bench/bandwidth.mjs [--rounds 15] [--mb 411]
 */
import binaryen from 'binaryen';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const PAGE = 65536;

/** sum1: one stream, 64 bytes per step; sum4: four streams `share / 4` apart, 16 bytes each per step. */
const WAT = `(module
  (import "env" "memory" (memory 1 65536 shared))
  (func (export "sum1") (param $p i32) (param $n i32) (result f32)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128) (local $e i32)
    (local.set $e (i32.add (local.get $p) (local.get $n)))
    (block $done (loop $step
      (br_if $done (i32.ge_u (local.get $p) (local.get $e)))
      (local.set $a (f32x4.add (local.get $a) (v128.load offset=0 (local.get $p))))
      (local.set $b (f32x4.add (local.get $b) (v128.load offset=16 (local.get $p))))
      (local.set $c (f32x4.add (local.get $c) (v128.load offset=32 (local.get $p))))
      (local.set $d (f32x4.add (local.get $d) (v128.load offset=48 (local.get $p))))
      (local.set $p (i32.add (local.get $p) (i32.const 64)))
      (br $step)))
    (f32x4.extract_lane 0 (f32x4.add (f32x4.add (local.get $a) (local.get $b)) (f32x4.add (local.get $c) (local.get $d)))))
  (func (export "sum4") (param $p i32) (param $n i32) (result f32)
    (local $a v128) (local $b v128) (local $c v128) (local $d v128) (local $s i32) (local $e i32)
    (local.set $s (i32.shr_u (local.get $n) (i32.const 2)))
    (local.set $e (i32.add (local.get $p) (local.get $s)))
    (block $done (loop $step
      (br_if $done (i32.ge_u (local.get $p) (local.get $e)))
      (local.set $a (f32x4.add (local.get $a) (v128.load (local.get $p))))
      (local.set $b (f32x4.add (local.get $b) (v128.load (i32.add (local.get $p) (local.get $s)))))
      (local.set $c (f32x4.add (local.get $c) (v128.load (i32.add (local.get $p) (i32.shl (local.get $s) (i32.const 1))))))
      (local.set $d (f32x4.add (local.get $d) (v128.load (i32.add (local.get $p) (i32.mul (local.get $s) (i32.const 3))))))
      (local.set $p (i32.add (local.get $p) (i32.const 16)))
      (br $step)))
    (f32x4.extract_lane 0 (f32x4.add (f32x4.add (local.get $a) (local.get $b)) (f32x4.add (local.get $c) (local.get $d))))))`;

if (isMainThread) {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '15' }, mb: { type: 'string', default: '411' } } });
  const rounds = Number(values.rounds);
  // A multiple of 2 threads × 4 streams × 64 bytes, so every share and stream is whole.
  const bytes = Math.floor((Number(values.mb) * 1e6) / 512) * 512;
  const mod = binaryen.parseText(WAT);
  mod.setFeatures(binaryen.Features.MVP | binaryen.Features.SIMD128 | binaryen.Features.Atomics);
  if (!mod.validate()) throw new Error('bandwidth.mjs: binaryen finds the probe module invalid');
  const wasm = new WebAssembly.Module(mod.emitBinary());
  const pages = Math.ceil((PAGE + bytes) / PAGE);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  new Float32Array(memory.buffer, PAGE, bytes / 4).fill(1); // touch every page before timing
  console.log(`reading ${(bytes / 1e6).toFixed(0)} MB, ${rounds} rounds; GB/s min-time / median`);
  for (const threads of [1, 2]) {
    const control = new Int32Array(new SharedArrayBuffer(4));
    const workers = await Promise.all(
      Array.from({ length: threads }, (_, id) => {
        const w = new Worker(new URL(import.meta.url), { workerData: { wasm, memory, control, id, threads, bytes } });
        return new Promise((resolve, reject) => {
          w.once('message', () => resolve(w));
          w.once('error', reject);
        });
      }),
    );
    for (const fn of ['sum1', 'sum4']) {
      const times = [];
      for (let r = 0; r < rounds + 1; r++) {
        const done = workers.map((w) => new Promise((resolve) => /** @type {Worker} */ (w).once('message', resolve)));
        const t0 = performance.now();
        for (const w of workers) /** @type {Worker} */ (w).postMessage(fn);
        await Promise.all(done);
        if (r > 0) times.push(performance.now() - t0); // round 0 warms the code up
      }
      times.sort((a, b) => a - b);
      const gbs = (/** @type {number} */ ms) => (bytes / ms / 1e6).toFixed(1);
      console.log(`  ${threads} thread(s), ${fn === 'sum1' ? 'one stream  ' : 'four streams'} per thread: ${gbs(times[0])} / ${gbs(times[times.length >> 1])} GB/s`);
    }
    await Promise.all(workers.map((w) => /** @type {Worker} */ (w).terminate()));
  }
} else {
  const { wasm, memory, id, threads, bytes } = workerData;
  const exports = /** @type {any} */ (new WebAssembly.Instance(wasm, { env: { memory } }).exports);
  const share = bytes / threads;
  let sink = 0;
  parentPort?.on('message', (fn) => {
    sink += exports[fn](PAGE + id * share, share);
    parentPort?.postMessage(sink);
  });
  parentPort?.postMessage('ready');
}
