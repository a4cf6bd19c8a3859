// Loads a large model (VGG-11 int8 by default, ?model=<folder URL>) with a progress bar, the bytes,
// their source (network or cache) and the rate; Abort and Clear cache buttons. window.vggcLoad.load()
// does the same from a script and resolves to the timings (bench/browser.mjs can use it).
import { loadModel, clearCache } from '../../dist/runtime/browser.js';
import { progressView } from './progress.js';

const params = new URLSearchParams(location.search);
const modelUrl = params.get('model') ?? '../../build/vgg11-int8/';
const $ = (id) => document.getElementById(id);
const progress = progressView($('progress'), $('bytes'));
let controller = null;

async function load({ threads, cache, verify } = {}) {
  controller = new AbortController();
  $('load').disabled = true;
  $('abort').disabled = false;
  $('status').textContent = `loading ${modelUrl}…`;
  const t0 = performance.now();
  const onProgress = (p) => {
    progress.onProgress(p);
    const s = (performance.now() - t0) / 1000;
    $('rate').textContent = s > 0.2 ? `(${(p.loadedBytes / 1e6 / s).toFixed(0)} MB/s)` : '';
  };
  try {
    const model = await loadModel(modelUrl, { threads, cache, verify, signal: controller.signal, onProgress });
    const ms = performance.now() - t0;
    const last = progress.last;
    $('status').textContent = `${model.manifest.name} (${model.manifest.weights.dtype}) loaded in ${(ms / 1000).toFixed(2)} s on ${model.threads} thread${model.threads > 1 ? 's' : ''}`;
    model.dispose();
    return { ms, totalBytes: last.totalBytes, cachedBytes: last.cachedBytes };
  } catch (e) {
    $('status').textContent = `error: ${e.message}`;
    throw e;
  } finally {
    $('load').disabled = false;
    $('abort').disabled = true;
  }
}

$('load').addEventListener('click', () => load().catch(() => undefined));
$('abort').addEventListener('click', () => controller?.abort());
$('clear-cache').addEventListener('click', async () => {
  const removed = await clearCache(modelUrl);
  $('cache-note').textContent = `removed ${removed} cached shard${removed === 1 ? '' : 's'}`;
});

window.vggcLoad = { load, clearCache: () => clearCache(modelUrl) };
