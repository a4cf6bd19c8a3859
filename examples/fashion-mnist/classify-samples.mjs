// `npm start`: compile the shipped Fashion-MNIST VGG and classify the 50 sample images with it.
// Uses only vggc's public API — the same calls a user's program would make.
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileModel } from 'vggc/compiler';
import { loadModel } from 'vggc';
import { imageToTensor, topK } from 'vggc/node-images';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const outDir = join(root, 'build', 'fashion-mnist');

let t = performance.now();
await compileModel({
  configPath: join(here, 'fashion-mnist.json'),
  weightsPath: join(here, 'weights.safetensors'),
  outDir,
});
console.log(`compiled examples/fashion-mnist/fashion-mnist.json → ${relative(process.cwd(), outDir) || outDir} in ${((performance.now() - t) / 1000).toFixed(1)} s`);

const model = await loadModel(outDir, { threads: 1 });
const { preprocessing, labels, config } = model.manifest;
const samples = JSON.parse(readFileSync(join(here, 'samples', 'labels.json'), 'utf8'));

console.log('');
console.log(`${'file'.padEnd(26)} ${'truth'.padEnd(12)} ${'prediction'.padEnd(12)} confidence`);
let correct = 0;
const latencies = [];
for (const s of samples) {
  const x = await imageToTensor(join(here, 'samples', s.file), preprocessing, config.inputSize);
  t = performance.now();
  const logits = await model.infer(x);
  latencies.push(performance.now() - t);
  const [best] = topK(logits, 1, labels);
  const ok = best.index === s.index;
  correct += ok ? 1 : 0;
  console.log(`${s.file.padEnd(26)} ${s.label.padEnd(12)} ${best.label.padEnd(12)} ${(100 * best.probability).toFixed(1).padStart(6)}%${ok ? '' : '   ✗'}`);
}
latencies.sort((a, b) => a - b);
console.log('');
const torch = JSON.parse(readFileSync(join(here, 'torch-predictions.json'), 'utf8'));
console.log(`accuracy on the ${samples.length} samples: ${correct}/${samples.length} = ${((100 * correct) / samples.length).toFixed(1)}% (PyTorch scores ${(100 * torch.accuracy).toFixed(2)}% on all ${torch.total} test images)`);
console.log(`latency per image: median ${latencies[latencies.length >> 1].toFixed(2)} ms (1 thread, after compile and load)`);
await model.dispose();
