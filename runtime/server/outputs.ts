/**
 * What a model answers: every named output of model.json (`model.outputs`, run by `inferAll`), each
 * with the batch size first. A classifier's last output is `logits` or `probabilities`
 * (compiler/outputs/names.ts); /classify ranks it.
 */
import type { ModelOutput, OutputTensor, VggcModel } from '../model.js';

export type OutputInfo = ModelOutput;
export type { OutputTensor };
export type Outputs = Record<string, OutputTensor>;

/** The names vggc gives a classifier's last tensor. */
export const HEAD_OUTPUTS: readonly string[] = ['logits', 'probabilities'];

/** The output /classify ranks, if the model has one. */
export const headOutput = (outputs: readonly OutputInfo[]): OutputInfo | undefined => outputs.find((o) => HEAD_OUTPUTS.includes(o.name));

export function describeOutputs(model: VggcModel): readonly OutputInfo[] {
  return model.outputs.map((o) => ({ name: o.name, shape: [...o.shape], layout: o.layout }));
}

/** Runs `n` images and returns every output, checked against what the model declares. */
export async function runOutputs(model: VggcModel, x: Float32Array, n: number): Promise<Outputs> {
  const got = await model.inferAll(x, n);
  const out: Outputs = {};
  for (const o of model.outputs) {
    const t = got[o.name];
    const want = [n, ...o.shape];
    // A mismatch is a runtime bug; catching it here keeps one request from receiving another's rows.
    if (!t || t.shape.join() !== want.join() || t.data.length !== want.reduce((a, b) => a * b, 1)) {
      throw new Error(`inferAll: output ${o.name} has shape [${t?.shape.join(', ')}] and ${t?.data.length} floats, expected [${want.join(', ')}]`);
    }
    out[o.name] = { data: t.data, shape: want };
  }
  return out;
}
