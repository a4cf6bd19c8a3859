/**
 * Outputs → an OIP v2 inference response: JSON, or with any binary output (binary tensor extension)
 * the JSON header followed by each binary output's bytes in the order of `outputs`, its length in
 * Inference-Header-Content-Length.
 */
import { HttpError } from './http-error.js';
import type { RequestedOutput } from './infer-request.js';
import type { Outputs } from './outputs.js';
import { bytesFromFloats } from './tensors.js';

export interface EncodedResponse {
  readonly body: Buffer;
  readonly headers: Record<string, string>;
}

export function encodeInferResponse(model: { name: string; version: string }, id: string, outputs: Outputs, requested: readonly RequestedOutput[]): EncodedResponse {
  const binary: Buffer[] = [];
  const described = requested.map(({ name, binary: asBinary }) => {
    const t = outputs[name];
    const head = { name, shape: [...t.shape], datatype: 'FP32' };
    if (asBinary) {
      const bytes = bytesFromFloats(t.data);
      binary.push(bytes);
      return { ...head, parameters: { binary_data_size: bytes.length } };
    }
    return { ...head, data: jsonFloats(name, t.data) };
  });
  const json = Buffer.from(JSON.stringify({ model_name: model.name, model_version: model.version, id, outputs: described }));
  if (binary.length === 0) return { body: json, headers: { 'content-type': 'application/json' } };
  return {
    body: Buffer.concat([json, ...binary]),
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(json.length) },
  };
}

/**
 * Each float as the shortest decimal that reads back to the same FP32 bits (JSON.stringify of the
 * widened double is exact too, just longer). JSON has no NaN or Infinity: rather than send null,
 * such an output must be asked for as binary.
 */
function jsonFloats(name: string, data: Float32Array): number[] {
  const out = new Array<number>(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) throw new HttpError(500, `output ${name} has ${v} at element ${i}, which JSON cannot carry; request it with parameters.binary_data`);
    out[i] = shortestFloat32(v);
  }
  return out;
}

/** The double with the fewest significant digits that rounds to the same float32 as `v`. */
function shortestFloat32(v: number): number {
  for (let digits = 6; digits < 9; digits++) {
    const d = Number(v.toPrecision(digits));
    if (Math.fround(d) === v) return d;
  }
  return v; // 9 significant digits always round-trip a float32
}
