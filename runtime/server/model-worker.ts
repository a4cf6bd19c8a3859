/**
 * One model in its own thread (see engine.ts): loads the folder with the deterministic build, then
 * runs each batch it is sent and sends the outputs back, transferred.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isVggcError } from '../format/errors.js';
import { loadModel } from '../load/node.js';
import { timedRun, type FromWorker, type ToWorker } from './engine.js';
import type { VggcModel } from '../model.js';
import { describeOutputs, type Outputs } from './outputs.js';

const { dir, threads } = workerData as { dir: string; threads?: number };
const port = parentPort!;
const send = (m: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);
const message = (e: unknown): string => (isVggcError(e) ? e.message : `${(e as Error)?.stack ?? String(e)}`.split('\n')[0]);

async function load(): Promise<VggcModel | null> {
  try {
    return await loadModel(dir, { threads, build: 'deterministic' });
  } catch (e) {
    send({ type: 'failed', error: message(e) });
    port.close(); // nothing else keeps this thread alive: it ends once the message is out
    return null;
  }
}

const loaded = await load();
if (loaded) serve(loaded);

/** Outputs that view shared memory are copied: the next batch would overwrite them before they are read. */
function owned(outputs: Outputs): Outputs {
  const out: Outputs = {};
  for (const [name, t] of Object.entries(outputs)) out[name] = t.data.buffer instanceof ArrayBuffer ? t : { data: t.data.slice(), shape: t.shape };
  return out;
}

/** Each buffer once (two outputs may share one), plain ArrayBuffers only. */
function transferable(outputs: Outputs): ArrayBuffer[] {
  return [...new Set(Object.values(outputs).map((t) => t.data.buffer))].filter((b): b is ArrayBuffer => b instanceof ArrayBuffer);
}

let last: Promise<unknown> = Promise.resolve();

function serve(model: VggcModel): void {
  send({ type: 'ready', manifest: model.manifest, outputs: [...describeOutputs(model)] });
  port.on('message', (m: ToWorker) => {
    if (m.type === 'close') {
      model.dispose();
      port.close();
      return;
    }
    // One batch after another in arrival order (the batcher may send the next before this one is done).
    last = last.then(() => timedRun(model, m.x, m.n)).then(
      ({ outputs, seconds }) => {
        const mine = owned(outputs);
        send({ type: 'result', id: m.id, outputs: mine, seconds }, transferable(mine));
      },
      (e: unknown) => send({ type: 'error', id: m.id, error: message(e) }),
    );
  });
}
