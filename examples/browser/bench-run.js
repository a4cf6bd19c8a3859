// One benchmark configuration (loaded by bench.html in a frame, or opened directly):
// ?engine=vggc|tfjs&threads=N&runs=R[&build=deterministic|relaxed|fastest]. Times VGG-11 at batch 1 and
// posts { engine, threads, build, loadMs, firstMs, times, median } to the parent (and sets
// window.benchResult).
const params = new URLSearchParams(location.search);
const engine = params.get('engine') ?? 'vggc';
const threads = Number(params.get('threads') ?? 1);
const runs = Number(params.get('runs') ?? 5);
const WARMUP = 2;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function time(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function benchVggc() {
  const { loadModel } = await import('../../dist/runtime/browser.js');
  const t0 = performance.now();
  const model = await loadModel('../../build/vgg11/', { threads, build: params.get('build') ?? undefined });
  const loadMs = performance.now() - t0;
  const [c, h, w] = model.inputShape;
  const x = new Float32Array(c * h * w);
  for (let i = 0; i < x.length; i++) x[i] = Math.sin(i * 0.37);
  const firstMs = await time(() => model.infer(x));
  for (let i = 1; i < WARMUP; i++) await model.infer(x);
  const times = [];
  for (let i = 0; i < runs; i++) times.push(await time(() => model.infer(x)));
  const result = { engine: 'vggc', threads: model.threads, build: model.build, loadMs, firstMs, times, median: median(times) };
  model.dispose();
  return result;
}

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.append(s);
  });
}

async function benchTfjs() {
  // TensorFlow.js's wasm backend sizes its pool from hardwareConcurrency (about half the cores): report
  // at least 4 so that the requested thread count is honoured on a 2-core machine.
  const cores = navigator.hardwareConcurrency;
  if (cores < 2 * threads) Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', { get: () => Math.max(4, 2 * threads), configurable: true });
  await loadScript('../../node_modules/@tensorflow/tfjs-core/dist/tf-core.min.js');
  await loadScript('../../node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js');
  const tf = window.tf;
  tf.wasm.setWasmPaths(new URL('../../node_modules/@tensorflow/tfjs-backend-wasm/dist/', location.href).href);
  tf.wasm.setThreadsCount(threads);
  const t0 = performance.now();
  if (!(await tf.setBackend('wasm'))) throw new Error('the TensorFlow.js wasm backend did not initialise');
  await tf.ready();
  const actualThreads = tf.wasm.getThreadsCount();
  // VGG-11 with random weights (timing only): torchvision's layer sizes.
  const convs = [[3, 64, true], [64, 128, true], [128, 256, false], [256, 256, true], [256, 512, false], [512, 512, true], [512, 512, false], [512, 512, true]];
  const fcs = [[512 * 7 * 7, 4096, true], [4096, 4096, true], [4096, 1000, false]];
  const conv = convs.map(([ci, co, pool]) => ({
    filter: tf.randomUniform([3, 3, ci, co], -Math.sqrt(6 / (9 * ci)), Math.sqrt(6 / (9 * ci))),
    bias: tf.randomUniform([co], -0.01, 0.01),
    pool,
  }));
  const fc = fcs.map(([i, o, relu]) => ({ w: tf.randomUniform([i, o], -Math.sqrt(3 / i), Math.sqrt(3 / i)), b: tf.randomUniform([o], -0.01, 0.01), relu }));
  const loadMs = performance.now() - t0;
  const x = tf.randomUniform([1, 224, 224, 3]);
  const forward = () =>
    tf.tidy(() => {
      let y = x;
      for (const l of conv) {
        y = tf.fused.conv2d({ x: y, filter: l.filter, strides: 1, pad: 'same', bias: l.bias, activation: 'relu' });
        if (l.pool) y = tf.maxPool(y, 2, 2, 'valid');
      }
      // NHWC → NCHW flatten order does not matter for timing.
      y = tf.reshape(y, [1, 512 * 7 * 7]);
      for (const l of fc) y = tf.fused.matMul({ a: y, b: l.w, bias: l.b, activation: l.relu ? 'relu' : 'linear' });
      return y;
    });
  const infer = async () => {
    const y = forward();
    await y.data();
    y.dispose();
  };
  const firstMs = await time(infer);
  for (let i = 1; i < WARMUP; i++) await infer();
  const times = [];
  for (let i = 0; i < runs; i++) times.push(await time(infer));
  return { engine: 'tfjs-wasm', threads: actualThreads, build: 'xnnpack simd', loadMs, firstMs, times, median: median(times) };
}

(engine === 'tfjs' ? benchTfjs() : benchVggc()).then(
  (result) => {
    window.benchResult = result;
    document.getElementById('out').textContent = JSON.stringify(result);
    parent.postMessage({ type: 'bench-result', ...result }, location.origin);
  },
  (e) => {
    window.benchResult = { error: String(e?.message ?? e) };
    document.getElementById('out').textContent = `error: ${e?.message ?? e}`;
    parent.postMessage({ type: 'bench-result', error: String(e?.message ?? e) }, location.origin);
  },
);
