/**
 * Seeded random parameters drawn the way torchvision initialises VGG (`VGG._initialize_weights`):
 * conv weights kaiming-normal (fan_out, ReLU gain) = N(0, 2 / (Co·3·3)), linear weights N(0, 0.01²),
 * all biases 0. Lets vggc build and benchmark a network without a checkpoint.
 *
 * Values are counter-based: element e of tensor t is a pure function of (seed, t, e), so any row
 * range can be produced in any order, or twice, and always gives the same numbers. They do not
 * match PyTorch's generator, only its distributions.
 */
import { VggcError } from '../errors.js';
import type { ParamTensor } from '../graph/graph.js';
import type { WeightSource } from './source.js';

export function seededRandomWeights(params: readonly ParamTensor[], seed: number): WeightSource {
  if (!Number.isSafeInteger(seed)) throw new VggcError(`seed must be an integer, got ${seed}`);
  // Fold both 32-bit halves of the seed (and its sign) into one key, then one stream key per tensor.
  const seedKey = mix32(mix32((seed >>> 0) ^ 0x3c6ef372) + Math.floor(seed / 0x100000000));
  const streamKeys = new Map(params.map((p, t) => [p.key, mix32(seedKey + Math.imul(t + 1, 0x85ebca6b))]));
  return {
    description: `seeded random weights (seed ${seed})`,
    readRows(param, rowStart, rowEnd) {
      const key = streamKeys.get(param.key);
      if (key === undefined) throw new Error(`${param.key} is not one of the parameters the random source was made for`);
      const rowElems = param.shape.slice(1).reduce((a, b) => a * b, 1);
      const out = new Float32Array((rowEnd - rowStart) * rowElems);
      if (param.init === 'ones') return out.fill(1); // BatchNorm scale and running variance
      const std = initStd(param);
      if (std > 0) fillNormal(out, key, rowStart * rowElems, std);
      return out;
    },
    close() {},
  };
}

/** Standard deviation of torchvision's initialiser for `param` (0 for the constant ones and zeros). */
export function initStd(param: ParamTensor): number {
  const s = param.shape;
  switch (param.init) {
    case 'kaiming-normal-fan-out-relu':
      return Math.sqrt(2 / (s[0] * (s[2] ?? 1) * (s[3] ?? 1)));
    case 'normal-0.01':
      return 0.01;
    case 'zeros':
    case 'ones':
      return 0;
  }
}

/**
 * A 32-bit integer finaliser (the "lowbias32" constants found by Chris Wellons' hash-prospector):
 * every input bit affects every output bit, so hashing consecutive counters gives uniform bits.
 */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x21f0aaad);
  x ^= x >>> 15;
  x = Math.imul(x, 0x735a2d97);
  x ^= x >>> 15;
  return x >>> 0;
}

const INV_2_31 = 1 / 0x80000000;

/**
 * Fills `out` with elements first … first+out.length-1 of the stream `key`, N(0, std²).
 * Marsaglia's polar method turns a pair of uniforms into a pair of normals without trigonometry
 * (twice as fast as Box–Muller here), so elements 2p and 2p+1 come from pair p together; a range
 * starting or ending mid-pair just drops the other half. A rejected attempt (21%) draws again from
 * a per-attempt key, so the result still depends only on (key, p).
 */
function fillNormal(out: Float32Array, key: number, first: number, std: number): void {
  const n = out.length;
  for (let p = Math.floor(first / 2), last = Math.floor((first + n - 1) / 2); p <= last; p++) {
    let k = key;
    let x: number, y: number, s: number;
    for (let attempt = 1; ; attempt++) {
      // Uniform in (-1, 1), never exactly 0 or ±1.
      x = (mix32(k + Math.imul(2 * p, 0x9e3779b9)) + 0.5) * INV_2_31 - 1;
      y = (mix32(k + Math.imul(2 * p + 1, 0x9e3779b9)) + 0.5) * INV_2_31 - 1;
      s = x * x + y * y;
      if (s < 1) break;
      k = mix32(key ^ Math.imul(attempt, 0x632be5ab));
    }
    const f = std * Math.sqrt((-2 * Math.log(s)) / s);
    const i = 2 * p - first;
    if (i >= 0) out[i] = f * x;
    if (i + 1 < n) out[i + 1] = f * y;
  }
}
