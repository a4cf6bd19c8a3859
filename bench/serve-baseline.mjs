// @ts-check
/**
 * The baseline for `npm run bench:serve`: the ~30-line server a user would write with node:http and
 * loadModel. It answers the same OIP JSON request as vggc serve (inputs[0].data, flat) with the
 * logits; no batching across requests, no limits, and infer() runs on the thread that serves HTTP.
 */
import http from 'node:http';
import { loadModel } from '../dist/runtime/index.js';

const [dir, port = '8001', threads] = process.argv.slice(2);
const model = await loadModel(dir, { build: 'deterministic', threads: threads ? Number(threads) : undefined });

http
  .createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      try {
        const input = JSON.parse(Buffer.concat(chunks).toString()).inputs[0];
        const n = input.shape[0];
        const logits = await model.infer(Float32Array.from(input.data), n);
        const outputs = [{ name: 'logits', shape: [n, model.numClasses], datatype: 'FP32', data: Array.from(logits) }];
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ model_name: model.manifest.name, outputs }));
      } catch (e) {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: String(e) }));
      }
    });
  })
  .listen(Number(port), '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`));
