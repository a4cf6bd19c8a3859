/**
 * What a model answers, through one adapter. Another change to the runtime gives models named
 * intermediate outputs (`outputs` and `inferAll` below); until a model has them, it has one output,
 * `logits`, of shape [numClasses] per image, from `infer`. The server only ever sees this shape.
 */
import type { VggcModel } from '../model.js';

export interface OutputInfo {
  readonly name: string;
  /** Per image (the batch dimension is not included). */
  readonly shape: readonly number[];
  readonly layout: 'nchw' | 'nhwc' | 'features';
}

/** One output of a batch: `shape` starts with the batch size N. */
export interface OutputTensor {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

export type Outputs = Record<string, OutputTensor>;

/** The planned runtime API, optional so that today's models (which lack it) fit too. */
export interface MaybeNamedOutputs {
  readonly outputs?: readonly OutputInfo[];
  inferAll?(x: Float32Array, n: number): Promise<Record<string, { data: Float32Array; shape: number[] }>>;
}

export type ServableModel = VggcModel & MaybeNamedOutputs;

export const LOGITS = 'logits';

export function describeOutputs(model: ServableModel): readonly OutputInfo[] {
  if (model.outputs && model.inferAll) return model.outputs.map((o) => ({ name: o.name, shape: [...o.shape], layout: o.layout }));
  return [{ name: LOGITS, shape: [model.numClasses], layout: 'features' }];
}

/** Runs `n` images and returns every output, checked against what describeOutputs promised. */
export async function runOutputs(model: ServableModel, x: Float32Array, n: number): Promise<Outputs> {
  if (!(model.outputs && model.inferAll)) {
    return { [LOGITS]: { data: await model.infer(x, n), shape: [n, model.numClasses] } };
  }
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
