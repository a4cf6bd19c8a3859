// The Fashion-MNIST test set as Debian's dataset-fashion-mnist installs it (idx files, gzipped), and
// its images as the shipped model's input: [0, 1] pixels, zero-padded centred to the input size,
// normalised with the manifest's mean and std — the preprocessing the model was trained with.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

export const DATA_DIR = '/usr/share/datasets/fashion-mnist';

/** idx3 (images) / idx1 (labels): big-endian magic and one u32 per dimension, then bytes. */
function readIdx(path) {
  const buf = gunzipSync(readFileSync(path));
  const ndim = buf[3];
  const dims = Array.from({ length: ndim }, (_, i) => buf.readUInt32BE(4 + 4 * i));
  return { dims, data: new Uint8Array(buf.buffer, buf.byteOffset + 4 + 4 * ndim) };
}

/** { images: Uint8Array (n·28·28), labels: Uint8Array (n), n, h, w }, or a one-line error. */
export function loadTestSet(dir = DATA_DIR) {
  const imagesPath = join(dir, 't10k-images-idx3-ubyte.gz');
  if (!existsSync(imagesPath)) throw new Error(`${imagesPath}: not found; install the test set with: sudo apt-get install dataset-fashion-mnist`);
  const images = readIdx(imagesPath);
  const labels = readIdx(join(dir, 't10k-labels-idx1-ubyte.gz'));
  const [n, h, w] = images.dims;
  return { images: images.data, labels: labels.data, n, h, w };
}

/** Images start … start + count − 1 as one N×1×H×W batch for the model. */
export function batchInput(set, start, count, manifest) {
  const [H, W] = manifest.config.inputSize;
  const { mean, std } = manifest.preprocessing;
  const { h, w } = set;
  const top = (H - h) >> 1;
  const left = (W - w) >> 1;
  const x = new Float32Array(count * H * W).fill((0 - mean[0]) / std[0]);
  for (let b = 0; b < count; b++) {
    const image = set.images.subarray((start + b) * h * w, (start + b + 1) * h * w);
    for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) x[b * H * W + (y + top) * W + xx + left] = (image[y * w + xx] / 255 - mean[0]) / std[0];
  }
  return x;
}
