/**
 * BatchNorm folding (the "fold BN" pass, applied where the weights are read): for a convolution
 * followed by BatchNorm2d in eval mode, with s = γ / √(running_var + ε),
 *   W'[co] = W[co] · s[co],   b'[co] = (b[co] − running_mean[co]) · s[co] + β[co],
 * computed in float64 and rounded once. The packer then stores W' and b' like any convolution's, so
 * the generated code has no BatchNorm at all.
 */
import type { BatchNormOp, ParamTensor } from '../graph/graph.js';
import type { Program } from '../program.js';
import type { WeightSource } from './source.js';

interface Folding {
  readonly bn: BatchNormOp;
  readonly role: 'weight' | 'bias';
}

export function foldBatchNorm(source: WeightSource, program: Program): WeightSource {
  const folded = new Map<string, Folding>();
  for (const step of program.steps) {
    if (step.kind !== 'conv-direct' && step.kind !== 'conv-winograd') continue;
    const { conv, batchNorm } = step.schedule.layer;
    if (!batchNorm) continue;
    folded.set(conv.weight.key, { bn: batchNorm, role: 'weight' });
    folded.set(conv.bias.key, { bn: batchNorm, role: 'bias' });
  }
  if (folded.size === 0) return source;
  const stats = new Map<string, { scale: Float64Array; shift: Float64Array }>();
  /** Per channel: scale s and, for the bias, shift β − mean·s. */
  const statsOf = (bn: BatchNormOp): { scale: Float64Array; shift: Float64Array } => {
    let st = stats.get(bn.id);
    if (!st) {
      const all = (p: ParamTensor): Float32Array => source.readRows(p, 0, bn.channels);
      const [gamma, beta, mean, variance] = [all(bn.weight), all(bn.bias), all(bn.runningMean), all(bn.runningVar)];
      const scale = new Float64Array(bn.channels);
      const shift = new Float64Array(bn.channels);
      for (let c = 0; c < bn.channels; c++) {
        scale[c] = gamma[c] / Math.sqrt(variance[c] + bn.eps);
        shift[c] = beta[c] - mean[c] * scale[c];
      }
      st = { scale, shift };
      stats.set(bn.id, st);
    }
    return st;
  };
  return {
    description: `${source.description}, BatchNorm folded`,
    readRows(param, rowStart, rowEnd) {
      const rows = source.readRows(param, rowStart, rowEnd);
      const f = folded.get(param.key);
      if (!f) return rows;
      const { scale, shift } = statsOf(f.bn);
      const perRow = rows.length / (rowEnd - rowStart);
      for (let r = 0; r < rowEnd - rowStart; r++) {
        const co = rowStart + r;
        for (let k = 0; k < perRow; k++) {
          const i = r * perRow + k;
          rows[i] = f.role === 'weight' ? rows[i] * scale[co] : rows[i] * scale[co] + shift[co];
        }
      }
      return rows;
    },
    close() {
      source.close();
    },
  };
}
