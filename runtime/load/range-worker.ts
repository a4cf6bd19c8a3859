/**
 * A Web Worker that fetches one byte range of weights.bin straight into the model's shared memory
 * (load/ranges.ts starts a few at once). Firefox delivers a worker's response body off the page's
 * main thread, which made VGG-11's weights arrive about twice as fast as a fetch on the page
 * (docs/performance.md, "Browsers").
 */
import { copyRange, type RangeJob } from './ranges.js';

export type FromRangeWorker = { type: 'progress'; bytes: number } | { type: 'done' } | { type: 'error'; message: string };

const post = (m: FromRangeWorker): void => (self as unknown as Worker).postMessage(m);
/** Progress messages every this many bytes: often enough for a progress bar, rare enough to cost nothing. */
const REPORT_BYTES = 8 << 20;

self.onmessage = async (e: MessageEvent<RangeJob>): Promise<void> => {
  let unreported = 0;
  try {
    await copyRange(e.data, (n) => {
      unreported += n;
      if (unreported >= REPORT_BYTES) {
        post({ type: 'progress', bytes: unreported });
        unreported = 0;
      }
    });
    if (unreported) post({ type: 'progress', bytes: unreported });
    post({ type: 'done' });
  } catch (err) {
    post({ type: 'error', message: String((err as Error)?.message ?? err) });
  }
};
