// @ts-check
/**
 * The runtime conformance script: self-contained, plain JavaScript, importing only vggc's built
 * public API (dist/runtime/index.js) and node: modules, so that Node, Deno and Bun all run it as it
 * is (vitest runs in none but Node). test/runtimes/driver.mjs compiles the models once, runs this
 * under every runtime and compares what each one reports with Node 20's.
 *
 *   <runtime> test/runtimes/conformance.mjs <job.json> <result.json>
 *
 * job.json: { goldens: [{ name, dir, golden }], fashion: { dir, input, reference } }. Every check is
 * asserted here (PyTorch parity, errors, dispose); the logits' SHA-256 digests go into result.json
 * for the driver's bit-identity comparison. Exits 1 when a check failed.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [jobPath, resultPath] = process.argv.slice(2);
const job = JSON.parse(readFileSync(jobPath, 'utf8'));
const api = await import(pathToFileURL(join(job.root, 'dist/runtime/index.js')).href);
const { loadModel, readNpy, supportsRelaxedSimd, VggcError, isVggcError } = api;

/** The project's parity tolerance (test/helpers.ts): max|y − ref| ≤ 1e-4 · max|ref|, same argmax. */
const TOLERANCE = 1e-4;

/** @type {{ name: string, ok: boolean, detail: string }[]} */
const checks = [];
/** @type {Record<string, string>} */
const digests = {};
/** @type {Record<string, unknown>} */
const facts = {};

/** Records one check; a thrown error is a failed check, not the end of the run. */
async function check(name, fn) {
  try {
    const detail = await fn();
    checks.push({ name, ok: true, detail: detail ?? '' });
  } catch (e) {
    checks.push({ name, ok: false, detail: String(/** @type {Error} */ (e)?.stack ?? e).split('\n').slice(0, 3).join(' | ') });
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

const sha256 = (/** @type {Float32Array} */ x) => createHash('sha256').update(new Uint8Array(x.buffer, x.byteOffset, x.byteLength)).digest('hex');

/** max |y − ref| / max |ref| and whether every row has the same argmax. */
function compare(y, ref, classes) {
  assert(y.length === ref.length, `${y.length} logits, expected ${ref.length}`);
  let diff = 0;
  let max = 0;
  for (let i = 0; i < ref.length; i++) {
    diff = Math.max(diff, Math.abs(y[i] - ref[i]));
    max = Math.max(max, Math.abs(ref[i]));
  }
  let sameArgmax = true;
  for (let r = 0; r < ref.length / classes; r++) if (argmax(y.subarray(r * classes, (r + 1) * classes)) !== argmax(ref.subarray(r * classes, (r + 1) * classes))) sameArgmax = false;
  return { rel: diff / max, sameArgmax };
}

function argmax(v) {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

function expectParity(y, ref, classes) {
  const { rel, sameArgmax } = compare(y, ref, classes);
  assert(rel <= TOLERANCE, `max|Δ|/max|ref| = ${rel.toExponential(2)} > ${TOLERANCE}`);
  assert(sameArgmax, 'argmax differs from PyTorch');
  return rel;
}

/** `count` images cycling through the golden's (input and reference rows alike). */
function cycle(data, perImage, count) {
  const out = new Float32Array(count * perImage);
  const have = data.length / perImage;
  for (let i = 0; i < count; i++) out.set(data.subarray((i % have) * perImage, (i % have + 1) * perImage), i * perImage);
  return out;
}

/** The one-line VggcError that `promise` must reject with. */
async function rejection(promise) {
  try {
    await promise;
  } catch (e) {
    assert(e instanceof VggcError && isVggcError(e), `expected a VggcError, got ${String(e)}`);
    const msg = /** @type {Error} */ (e).message;
    assert(!/[\r\n]/.test(msg), `message is not one line: ${JSON.stringify(msg)}`);
    return msg;
  }
  throw new Error('expected a VggcError, but the promise resolved');
}

async function withModel(dir, opts, fn) {
  const model = await loadModel(dir, opts);
  try {
    return await fn(model);
  } finally {
    await model.dispose();
  }
}

facts.relaxedSimd = supportsRelaxedSimd();

for (const g of job.goldens) {
  const x = readNpy(join(g.golden, 'input.npy'));
  const ref = readNpy(join(g.golden, 'logits.npy'));
  const [, c, h, w] = x.shape;
  const perImage = c * h * w;
  const classes = ref.shape[1];

  await check(`${g.name}: loads with default options and runs the deterministic build`, () =>
    withModel(g.dir, {}, async (m) => {
      assert(m.build === 'deterministic', `model.build is ${m.build}`);
      assert(m.inputShape.join() === [c, h, w].join(), `inputShape ${m.inputShape}`);
      assert(m.numClasses === classes, `numClasses ${m.numClasses}`);
      const y = await m.infer(x.data, x.shape[0]);
      digests[`${g.name}/default/b${x.shape[0]}`] = sha256(y);
      return `threads ${m.threads}, parity ${expectParity(y, ref.data, classes).toExponential(2)}`;
    }),
  );

  for (const threads of [1, 2]) {
    await check(`${g.name}: deterministic, ${threads} thread(s), batches 1 and 3 match PyTorch; an image's logits do not depend on its batch`, () =>
      withModel(g.dir, { threads, build: 'deterministic' }, async (m) => {
        assert(m.threads === threads, `model.threads is ${m.threads}`);
        const y1 = await m.infer(x.data.slice(0, perImage), 1);
        const y3 = await m.infer(cycle(x.data, perImage, 3), 3);
        expectParity(y1, ref.data.subarray(0, classes), classes);
        const rel = expectParity(y3, cycle(ref.data, classes, 3), classes);
        assert(sha256(y3.subarray(0, classes)) === sha256(y1), 'image 0 gives different bits in batches of 1 and 3');
        digests[`${g.name}/deterministic/t${threads}/b1`] = sha256(y1);
        digests[`${g.name}/deterministic/t${threads}/b3`] = sha256(y3);
        return `parity ${rel.toExponential(2)}`;
      }),
    );
  }

  await check(`${g.name}: relaxed build matches PyTorch where the engine has relaxed SIMD, and is a one-line error where not`, async () => {
    if (!supportsRelaxedSimd()) {
      const msg = await rejection(loadModel(g.dir, { build: 'relaxed' }));
      assert(msg.includes('does not support relaxed SIMD'), msg);
      return withModel(g.dir, { build: 'fastest' }, async (m) => {
        assert(m.build === 'deterministic', `fastest ran ${m.build} without relaxed SIMD`);
        return 'no relaxed SIMD: relaxed refused, fastest runs deterministic';
      });
    }
    for (const build of ['relaxed', 'fastest', 'auto']) {
      await withModel(g.dir, { build, threads: 1 }, async (m) => assert(m.build === 'relaxed', `${build} ran ${m.build}`));
    }
    return withModel(g.dir, { build: 'relaxed', threads: 2 }, async (m) => {
      const y = await m.infer(cycle(x.data, perImage, 3), 3);
      digests[`${g.name}/relaxed/t2/b3`] = sha256(y);
      return `parity ${expectParity(y, cycle(ref.data, classes, 3), classes).toExponential(2)}`;
    });
  });
}

// The trained example: the 50 sample images, the same top-1 as PyTorch's reference run.
const f = job.fashion;
await check('fashion-mnist: 50 samples on 2 threads, top-1 as recorded, bits as on 1 thread', async () => {
  const x = readNpy(f.input);
  const expected = JSON.parse(readFileSync(f.reference, 'utf8')).samples.map((s) => s.predicted);
  const y1 = await withModel(f.dir, { threads: 1 }, (m) => m.infer(x.data, x.shape[0]));
  const y2 = await withModel(f.dir, { threads: 2 }, (m) => m.infer(x.data, x.shape[0]));
  const classes = y1.length / x.shape[0];
  const got = Array.from({ length: x.shape[0] }, (_, i) => argmax(y2.subarray(i * classes, (i + 1) * classes)));
  assert(got.join() === expected.join(), `top-1 ${got.join()} expected ${expected.join()}`);
  assert(sha256(y1) === sha256(y2), '1 and 2 threads give different bits');
  digests['fashion-mnist/default/b50'] = sha256(y1);
  return `${got.length} predictions`;
});

// Errors: the one-line messages of test/runtime.test.ts and test/hostile-runtime.test.ts.
const small = job.goldens[0];
await check('errors: a wrong input length is a one-line VggcError naming both sizes', () =>
  withModel(small.dir, { threads: 1 }, async (m) => {
    const [c, h, w] = m.inputShape;
    const msg = await rejection(m.infer(new Float32Array(100)));
    const want = `infer: input has 100 floats but 1 image(s) of ${c}×${h}×${w} need ${c * h * w}`;
    assert(msg === want, `${JSON.stringify(msg)} ≠ ${JSON.stringify(want)}`);
    return msg;
  }),
);
await check('errors: a missing folder is a one-line VggcError naming model.json', async () => {
  const missing = join(job.work, 'no-such-model');
  const msg = await rejection(loadModel(missing));
  const want = `${missing}/model.json: cannot read (ENOENT); is this a folder written by vggc compile?`;
  assert(msg === want, `${JSON.stringify(msg)} ≠ ${JSON.stringify(want)}`);
  return msg;
});
for (const threads of [1, 2]) {
  await check(`dispose (${threads} thread(s)): later infer() calls reject with a one-line VggcError`, async () => {
    const m = await loadModel(small.dir, { threads });
    const [c, h, w] = m.inputShape;
    await m.infer(new Float32Array(c * h * w));
    await m.dispose();
    const msg = await rejection(m.infer(new Float32Array(c * h * w)));
    assert(msg === `${small.dir}: infer() called after dispose()`, msg);
    return msg;
  });
}

writeFileSync(resultPath, JSON.stringify({ checks, digests, facts }, null, 1));
const failed = checks.filter((c) => !c.ok).length;
// Workers were disposed; exit explicitly anyway, so that no runtime lingers on an idle handle.
process.exit(failed ? 1 : 0);
