// Similar-image search with the shipped Fashion-MNIST VGG: its penultimate layer (fc6, the 128
// ReLU features before the last Linear) as an embedding, cosine similarity as the measure.
//
//   npm run example:similar -- IMAGE [--k 5]        the k test images nearest to IMAGE
//   npm run example:similar -- --evaluate [--json]  leave-one-out precision@5 over the 10,000 test images
//
// Needs the test set: sudo apt-get install dataset-fashion-mnist. Uses only vggc's public API.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { compileModel } from 'vggc/compiler';
import { loadModel, writeNpy } from 'vggc';
import { imageToTensor, topK } from 'vggc/node-images';
import { batchInput, loadTestSet } from './test-set.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, '..', '..', 'build', 'fashion-mnist-similar');
/** The embedding: fc6, after its ReLU. The logits come along to name the query's class. */
const EMBEDDING = 'fc6';
const BATCH = 100;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { k: { type: 'string', default: '5' }, evaluate: { type: 'boolean' }, json: { type: 'boolean' }, npy: { type: 'string' }, threads: { type: 'string', default: '1' } },
});
const k = Number(values.k);
if (!Number.isInteger(k) || k < 1 || k > 100) fail(`--k ${values.k}: expected a whole number from 1 to 100`);
if (!values.evaluate && positionals.length !== 1) fail('usage: npm run example:similar -- IMAGE [--k 5]   or   -- --evaluate [--json] [--npy FILE]');

function fail(message) {
  console.error(`similar: ${message}`);
  process.exit(2);
}

/** Each row scaled to unit length (an all-zero row stays zero: it is similar to nothing). */
function normalise(rows, size) {
  for (let r = 0; r < rows.length / size; r++) {
    let norm = 0;
    for (let i = 0; i < size; i++) norm += rows[r * size + i] ** 2;
    const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    for (let i = 0; i < size; i++) rows[r * size + i] *= scale;
  }
  return rows;
}

/** a[ai …] · b[bi …] over `size` floats, four accumulators (size is a multiple of 4 here: 128). */
function dot(a, ai, b, bi, size) {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (let i = 0; i < size; i += 4) {
    s0 += a[ai + i] * b[bi + i];
    s1 += a[ai + i + 1] * b[bi + i + 1];
    s2 += a[ai + i + 2] * b[bi + i + 2];
    s3 += a[ai + i + 3] * b[bi + i + 3];
  }
  return s0 + s1 + s2 + s3;
}

/** Inserts (score, index) into a list kept in descending order of score, at most k long; returns the new k-th best. */
function keepTop(list, score, index) {
  let at = list.length;
  while (at > 0 && list[at - 1].score < score) at--;
  list.splice(at, 0, { score, index });
  if (list.length > k) list.pop();
  return list.length === k ? list[k - 1].score : -Infinity;
}

/**
 * Leave-one-out precision@k: for every image its k most cosine-similar other images, and the share of
 * them with the same label. Each pair is scored once and offered to both images' lists.
 */
function precisionAtK(unit, size, labels, n) {
  const top = Array.from({ length: n }, () => []);
  // The k-th best score so far of each image: most pairs are below both and touch no list.
  const worst = new Float64Array(n).fill(-Infinity);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const s = dot(unit, i * size, unit, j * size, size);
      if (s > worst[i]) worst[i] = keepTop(top[i], s, j);
      if (s > worst[j]) worst[j] = keepTop(top[j], s, i);
    }
  }
  let hits = 0;
  for (let i = 0; i < n; i++) for (const { index } of top[i]) hits += labels[index] === labels[i] ? 1 : 0;
  return { hits, total: n * k, precision: hits / (n * k) };
}

const started = performance.now();
await compileModel({ configPath: join(here, 'fashion-mnist.json'), weightsPath: join(here, 'weights.safetensors'), outDir, outputs: ['logits', EMBEDDING] });
const model = await loadModel(outDir, { threads: Number(values.threads) });
const set = loadTestSet();
const readyMs = performance.now() - started;
const size = model.outputs.find((o) => o.name === EMBEDDING).shape[0];
if (size % 4 !== 0) fail(`${EMBEDDING} has ${size} features; this example's dot product takes a multiple of 4`);

// Embed the test set, BATCH images per call.
const tEmbed = performance.now();
const embeddings = new Float32Array(set.n * size);
for (let start = 0; start < set.n; start += BATCH) {
  const count = Math.min(BATCH, set.n - start);
  const out = await model.inferAll(batchInput(set, start, count, model.manifest), count);
  embeddings.set(out[EMBEDDING].data, start * size);
}
const embedMs = performance.now() - tEmbed;
if (values.npy) {
  mkdirSync(dirname(values.npy), { recursive: true });
  writeNpy(values.npy, [set.n, size], embeddings);
}
const unit = normalise(Float32Array.from(embeddings), size);

if (values.evaluate) {
  const tSearch = performance.now();
  const { hits, total, precision } = precisionAtK(unit, size, set.labels, set.n);
  const searchMs = performance.now() - tSearch;
  if (values.json) {
    console.log(JSON.stringify({ layer: EMBEDDING, features: size, images: set.n, k, hits, total, precision, embedMs, searchMs }));
  } else {
    console.log(`leave-one-out precision@${k} of ${EMBEDDING} (${size} features), cosine, over ${set.n} test images: ${(100 * precision).toFixed(2)}% (${hits} / ${total})`);
    console.log(`embedding took ${(embedMs / 1000).toFixed(1)} s (${values.threads} thread(s)), the all-pairs search ${(searchMs / 1000).toFixed(1)} s`);
  }
} else {
  const file = positionals[0];
  const { preprocessing, config, labels } = model.manifest;
  const out = await model.inferAll(await imageToTensor(file, preprocessing, config.inputSize), 1);
  const query = normalise(Float32Array.from(out[EMBEDDING].data), size);
  const [best] = topK(out.logits.data, 1, labels);
  const nearest = [];
  for (let j = 0; j < set.n; j++) keepTop(nearest, dot(query, 0, unit, j * size, size), j);
  console.log(`${file}: classified as ${best.label} (${(100 * best.probability).toFixed(1)}%); the ${k} nearest test images by ${EMBEDDING} cosine similarity:`);
  console.log(`${'rank'.padStart(4)}  ${'test image'.padStart(10)}  ${'label'.padEnd(12)} cosine`);
  nearest.forEach(({ score, index }, r) => console.log(`${String(r + 1).padStart(4)}  ${String(index).padStart(10)}  ${labels[set.labels[index]].padEnd(12)} ${score.toFixed(4)}`));
  console.log(`(compiling, loading and reading the test set ${(readyMs / 1000).toFixed(1)} s; embedding the ${set.n} test images ${(embedMs / 1000).toFixed(1)} s)`);
}
await model.dispose();
