// The Fashion-MNIST demo: load the compiled model, classify a sample or a dropped image, show the
// top-5 as bars. Query parameters: ?threads=N, ?build=deterministic|relaxed|fastest (default deterministic), ?model=<folder URL>.
// window.vggcDemo exposes the same functions to scripts (the browser tests use it).
import { loadModel, clearCache, imageToTensor, topK, outputKind } from '../../dist/runtime/browser.js';
import { progressView } from './progress.js';

const params = new URLSearchParams(location.search);
const modelUrl = params.get('model') ?? '../../build/fashion-mnist/';
const samplesUrl = new URL('../fashion-mnist/samples/', location.href);
const $ = (id) => document.getElementById(id);

const status = (text, error = false) => {
  $('status').textContent = text;
  $('status').classList.toggle('error', error);
};

async function start() {
  const threads = params.has('threads') ? Number(params.get('threads')) : undefined;
  // Without ?build the runtime's default runs: the deterministic build, the same logits as Node.
  const build = params.get('build') ?? undefined;
  const t0 = performance.now();
  const model = await loadModel(modelUrl, { threads, build, onProgress: progress.onProgress });
  const loadMs = performance.now() - t0;
  const why = model.threads === 1 && !crossOriginIsolated ? ' (page not cross-origin isolated: see the console)' : '';
  status(`${model.manifest.name}: ${model.threads} thread${model.threads > 1 ? 's' : ''}${why}, ${model.build} build, loaded in ${loadMs.toFixed(0)} ms`);
  return model;
}

const progress = progressView($('progress'), $('bytes'));
// The next visit (or reload) fetches the weights again.
$('clear-cache').addEventListener('click', async () => {
  const removed = await clearCache(modelUrl);
  $('cache-note').textContent = `removed ${removed} cached shard${removed === 1 ? '' : 's'}; a reload downloads them again`;
});

const modelPromise = start();
modelPromise.catch((e) => status(`error: ${e.message}`, true));

/** Preprocesses and classifies one image (Blob or URL); returns logits, top-5 and latency. */
async function classify(source) {
  const model = await modelPromise;
  const blob = typeof source === 'string' ? await (await fetch(source)).blob() : source;
  const { preprocessing, config, labels } = model.manifest;
  const x = await imageToTensor(blob, preprocessing, config.inputSize);
  const t = performance.now();
  const logits = await model.infer(x);
  const ms = performance.now() - t;
  return { logits: Array.from(logits), top: topK(logits, 5, labels, outputKind(model.manifest)), ms, threads: model.threads, build: model.build };
}

function showPreview(blob) {
  createImageBitmap(blob).then((bitmap) => {
    const canvas = $('preview');
    canvas.width = bitmap.width;
    canvas.height = bitmap.height;
    canvas.getContext('2d').drawImage(bitmap, 0, 0);
    bitmap.close();
  });
}

function showResult(result, truth) {
  const [best] = result.top;
  $('caption').textContent = truth ? `${best.label} (truth: ${truth})` : best.label;
  const bars = $('bars');
  bars.replaceChildren(
    ...result.top.map((p) => {
      const li = document.createElement('li');
      li.innerHTML = `<span class="label"></span><span class="bar"><span></span></span><span class="p"></span>`;
      li.querySelector('.label').textContent = p.label;
      li.querySelector('.bar span').style.width = `${(100 * p.probability).toFixed(1)}%`;
      li.querySelector('.p').textContent = `${(100 * p.probability).toFixed(1)}%`;
      return li;
    }),
  );
  $('latency').textContent = `inference ${result.ms.toFixed(2)} ms on ${result.threads} thread${result.threads > 1 ? 's' : ''} (${result.build} build)`;
  document.body.dataset.classified = String(Number(document.body.dataset.classified ?? 0) + 1);
}

async function classifyAndShow(blob, truth) {
  showPreview(blob);
  try {
    showResult(await classify(blob), truth);
  } catch (e) {
    status(`error: ${e.message}`, true);
  }
}

async function loadSamples() {
  const samples = await (await fetch(new URL('labels.json', samplesUrl))).json();
  const grid = $('samples');
  for (const s of samples) {
    const button = document.createElement('button');
    button.title = `${s.file} (${s.label})`;
    const img = document.createElement('img');
    img.src = new URL(s.file, samplesUrl).href;
    img.alt = s.label;
    button.append(img);
    button.addEventListener('click', async () => {
      grid.querySelectorAll('.selected').forEach((b) => b.classList.remove('selected'));
      button.classList.add('selected');
      const blob = await (await fetch(img.src)).blob();
      await classifyAndShow(blob, s.label);
    });
    grid.append(button);
  }
  return samples;
}

/** Classifies every shipped sample; shows the accuracy and returns one row per sample. */
async function classifyAllSamples() {
  const samples = await samplesPromise;
  const rows = [];
  for (const s of samples) {
    const r = await classify(new URL(s.file, samplesUrl).href);
    rows.push({ file: s.file, truth: s.index, predicted: r.top[0].index, probability: r.top[0].probability, logits: r.logits, ms: r.ms });
  }
  const correct = rows.filter((r) => r.predicted === r.truth).length;
  const ms = rows.map((r) => r.ms).sort((a, b) => a - b);
  $('summary').textContent = `${correct}/${rows.length} correct; median inference ${ms[ms.length >> 1].toFixed(2)} ms`;
  return rows;
}

const samplesPromise = loadSamples();

// Drag and drop, or the file picker.
const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const file = e.dataTransfer?.files?.[0];
  if (file) classifyAndShow(file);
});
$('file').addEventListener('change', (e) => {
  const file = e.target.files?.[0];
  if (file) classifyAndShow(file);
});
$('all').addEventListener('click', () => classifyAllSamples().catch((e) => status(`error: ${e.message}`, true)));

modelPromise.then(async () => {
  $('all').disabled = false;
  // Start with the first sample, so the page shows a prediction at once.
  await samplesPromise;
  $('samples').querySelector('button')?.click();
});

window.vggcDemo = {
  ready: modelPromise.then((m) => ({ threads: m.threads, build: m.build, crossOriginIsolated, name: m.manifest.name, progress: progress.last })),
  classify,
  classifyAllSamples,
  showResult,
  showPreview,
};
