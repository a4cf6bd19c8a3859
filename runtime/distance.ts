/**
 * Features as measures: LPIPS's unlearned ("baseline") perceptual distance from a model's map
 * outputs, and cosine similarity of embeddings. Plain arithmetic on infer/inferAll results, for Node
 * and browsers alike.
 */
import { VggcError } from './format/errors.js';
import type { OutputTensor } from './model.js';

/** LPIPS's normalize_tensor ε: x / (‖x‖₂ + ε) over channels. */
const UNIT_EPS = 1e-10;

/**
 * The distance LPIPS computes with every linear layer set to ones (Zhang et al. 2018, "lin" off):
 * for each tap, the feature vector at each pixel unit-normalised over channels, the squared
 * difference summed over channels, averaged over the pixels; summed over taps. `a` and `b` are
 * inferAll results of one image each, maps in NCHW (vggc's default outputLayout).
 */
export function perceptualDistance(a: Record<string, OutputTensor>, b: Record<string, OutputTensor>, taps: readonly string[]): number {
  const d = perceptualDistances(a, b, taps);
  if (d.length !== 1) throw new VggcError(`perceptual distance: expected one image's outputs, found a batch of ${d.length} (perceptualDistances compares batches image by image)`);
  return d[0];
}

/** perceptualDistance of image i of `a` and image i of `b`, for every i of two equal batches. */
export function perceptualDistances(a: Record<string, OutputTensor>, b: Record<string, OutputTensor>, taps: readonly string[]): Float64Array {
  if (taps.length === 0) throw new VggcError('perceptual distance: no taps given');
  let out: Float64Array | null = null;
  for (const name of taps) {
    const x = a[name];
    const y = b[name];
    if (!x || !y) throw new VggcError(`perceptual distance: the model has no output ${JSON.stringify(name)}`);
    if (x.shape.length !== 4 || x.shape.join() !== y.shape.join()) throw new VggcError(`perceptual distance: output ${name} must be two N×C×H×W maps of one shape (found [${x.shape.join(', ')}] and [${y.shape.join(', ')}])`);
    const [n, c, h, w] = x.shape;
    out ??= new Float64Array(n);
    if (out.length !== n) throw new VggcError(`perceptual distance: output ${name} holds ${n} images, the others ${out.length}`);
    for (let i = 0; i < n; i++) out[i] += tapDistance(x.data.subarray(i * c * h * w, (i + 1) * c * h * w), y.data.subarray(i * c * h * w, (i + 1) * c * h * w), c, h * w);
  }
  return out!;
}

/** One tap of one image: mean over pixels of ‖x/‖x‖ − y/‖y‖‖² over channels (C×pixels planes). */
function tapDistance(x: Float32Array, y: Float32Array, c: number, pixels: number): number {
  let sum = 0;
  for (let p = 0; p < pixels; p++) {
    let nx = 0;
    let ny = 0;
    for (let ch = 0; ch < c; ch++) {
      nx += x[ch * pixels + p] ** 2;
      ny += y[ch * pixels + p] ** 2;
    }
    const sx = 1 / (Math.sqrt(nx) + UNIT_EPS);
    const sy = 1 / (Math.sqrt(ny) + UNIT_EPS);
    for (let ch = 0; ch < c; ch++) sum += (x[ch * pixels + p] * sx - y[ch * pixels + p] * sy) ** 2;
  }
  return sum / pixels;
}

/** cos(a, b) of two vectors (0 when either is all zero). */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return aa && bb ? ab / Math.sqrt(aa * bb) : 0;
}

/** The five taps LPIPS reads from VGG-16: after relu1_2, relu2_2, relu3_3, relu4_3, relu5_3. */
export const LPIPS_VGG16_TAPS = ['relu1_2', 'relu2_2', 'relu3_3', 'relu4_3', 'relu5_3'] as const;
