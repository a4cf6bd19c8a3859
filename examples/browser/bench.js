// Runs each configuration in a fresh same-origin frame (bench-run.html) and tabulates the medians.
// ?auto=1 starts at once; ?configs=vggc:1,vggc:2,tfjs:1,tfjs:2 and ?runs=N choose what runs.
// window.benchResults (a promise while running) is for scripts and tests.
const params = new URLSearchParams(location.search);
const configs = (params.get('configs') ?? 'vggc:1,vggc:2,tfjs:1,tfjs:2').split(',').map((c) => {
  const [engine, threads] = c.split(':');
  return { engine, threads: Number(threads) };
});
const $ = (id) => document.getElementById(id);
if (params.has('runs')) $('runs').value = params.get('runs');
const status = (t, error = false) => {
  $('status').textContent = t;
  $('status').classList.toggle('error', error);
};
status(crossOriginIsolated ? `cross-origin isolated; ${navigator.hardwareConcurrency} cores` : 'not cross-origin isolated: threads are unavailable (use npm run serve)', !crossOriginIsolated);

function runOne(config, runs) {
  return new Promise((resolve, reject) => {
    const frame = document.createElement('iframe');
    const q = new URLSearchParams({ engine: config.engine, threads: String(config.threads), runs: String(runs) });
    if (params.has('build')) q.set('build', params.get('build'));
    frame.src = `bench-run.html?${q}`;
    frame.style.display = 'none';
    const onMessage = (e) => {
      if (e.source !== frame.contentWindow || e.data?.type !== 'bench-result') return;
      window.removeEventListener('message', onMessage);
      frame.remove();
      if (e.data.error) reject(new Error(`${config.engine} ${config.threads}T: ${e.data.error}`));
      else resolve(e.data);
    };
    window.addEventListener('message', onMessage);
    document.body.append(frame);
  });
}

async function runAll() {
  $('run').disabled = true;
  const runs = Number($('runs').value) || 5;
  const results = [];
  $('results').replaceChildren();
  try {
    for (const c of configs) {
      status(`running ${c.engine} on ${c.threads} thread(s)…`);
      const r = await runOne(c, runs);
      results.push(r);
      const tr = document.createElement('tr');
      for (const v of [r.engine, r.threads, r.build, r.loadMs.toFixed(0), r.firstMs.toFixed(0), r.median.toFixed(1), r.times.map((t) => t.toFixed(0)).join(' ')]) {
        const td = document.createElement('td');
        td.textContent = String(v);
        tr.append(td);
      }
      $('results').append(tr);
      // Give the removed frame's memory (700 MB of weights) a moment to be released.
      await new Promise((r) => setTimeout(r, 500));
    }
    status('done');
  } catch (e) {
    status(`error: ${e.message}`, true);
    throw e;
  } finally {
    $('run').disabled = false;
  }
  return results;
}

$('run').addEventListener('click', () => {
  window.benchResults = runAll();
});
if (params.get('auto') === '1') window.benchResults = runAll();
