// How the example pages show a load's progress: bytes so far, and where they came from (the
// network, or the Cache API where loadModel keeps verified weight shards).

/** `12.3 / 133.0 MB, from the network` | `…, from the cache` | `…, 40 % from the cache`. */
export function describeProgress({ loadedBytes, totalBytes, cachedBytes }) {
  const mb = (n) => (n / 1e6).toFixed(1);
  const share = loadedBytes ? cachedBytes / loadedBytes : 0;
  const source = cachedBytes === 0 ? 'from the network' : share === 1 ? 'from the cache' : `${Math.round(share * 100)} % from the cache`;
  return `${mb(loadedBytes)} / ${mb(totalBytes)} MB, ${source}`;
}

/** An onProgress that drives a <progress> and a text element. Returns it and the last event seen. */
export function progressView(bar, text) {
  const view = {
    last: null,
    onProgress(p) {
      view.last = p;
      bar.value = p.totalBytes ? p.loadedBytes / p.totalBytes : 1;
      text.textContent = describeProgress(p);
    },
  };
  return view;
}
