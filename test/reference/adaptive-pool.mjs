// @ts-check
/**
 * PyTorch's AdaptiveAvgPool2d as a (h·w)×(oh·ow) matrix (row-major float32): output (i, j) averages
 * rows [floor(i·h/oh), ceil((i+1)·h/oh)) and columns [floor(j·w/ow), ceil((j+1)·w/ow)). Windows
 * overlap when the size does not divide, and repeat input cells when upsampling (oh > h).
 *
 * Plain JavaScript so that both TensorFlow.js forward passes use it: the test reference
 * (test/reference/tfjs-vgg.ts) and the benchmark's TensorFlow.js engine (bench/worker.mjs).
 * Written from PyTorch's definition, not from vggc's kernel.
 * @param {number} h @param {number} w @param {number} oh @param {number} ow
 * @returns {Float32Array}
 */
export function adaptivePoolMatrix(h, w, oh, ow) {
  const m = new Float32Array(h * w * oh * ow);
  for (let i = 0; i < oh; i++) {
    const y0 = Math.floor((i * h) / oh);
    const y1 = Math.ceil(((i + 1) * h) / oh);
    for (let j = 0; j < ow; j++) {
      const x0 = Math.floor((j * w) / ow);
      const x1 = Math.ceil(((j + 1) * w) / ow);
      const weight = 1 / ((y1 - y0) * (x1 - x0));
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[(y * w + x) * oh * ow + i * ow + j] = weight;
    }
  }
  return m;
}
