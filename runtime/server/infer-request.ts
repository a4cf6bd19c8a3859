/**
 * An OIP v2 inference request → the model's input and the outputs to send back. The body is JSON,
 * or (binary tensor extension) JSON of Inference-Header-Content-Length bytes followed by each binary
 * input's bytes in the order of `inputs`, or (raw binary request, header 0) only the one input's
 * bytes for a batch of one. Every refusal is a 400 with one line saying what was wrong.
 */
import { badRequest } from './http-error.js';
import { describe, floatsFromBytes, floatsFromJson, product } from './tensors.js';
import type { OutputInfo } from './outputs.js';

export const INPUT_NAME = 'input';

export interface RequestedOutput {
  readonly name: string;
  readonly binary: boolean;
}

export interface InferRequest {
  /** The request's id, if it sent one. */
  readonly id: string | undefined;
  readonly x: Float32Array;
  readonly n: number;
  readonly outputs: readonly RequestedOutput[];
}

export interface ModelShape {
  readonly name: string;
  /** [C, H, W] */
  readonly inputShape: readonly number[];
  readonly outputs: readonly OutputInfo[];
}

type JsonParse = (text: string) => unknown;

export function parseInferRequest(body: Buffer, headerLength: string | undefined, model: ModelShape, parseJson: JsonParse): InferRequest {
  const imageBytes = 4 * product(model.inputShape);
  let jsonBytes = body.length;
  if (headerLength !== undefined) {
    if (!/^\d+$/.test(headerLength) || Number(headerLength) > body.length) {
      throw badRequest(`Inference-Header-Content-Length is ${JSON.stringify(headerLength)} but the body has ${body.length} bytes`);
    }
    jsonBytes = Number(headerLength);
    if (jsonBytes === 0) {
      // Raw binary request: one input, batch of one, every output binary (Triton's extension).
      if (body.length !== imageBytes) throw badRequest(`raw binary body has ${body.length} bytes but one ${model.inputShape.join('×')} FP32 image is ${imageBytes}`);
      return { id: undefined, x: floatsFromBytes(body, 'input'), n: 1, outputs: model.outputs.map((o) => ({ name: o.name, binary: true })) };
    }
  }
  if (jsonBytes === 0) throw badRequest('empty body: expected an inference request (JSON)');
  let req: unknown;
  try {
    req = parseJson(body.subarray(0, jsonBytes).toString('utf8'));
  } catch (e) {
    throw badRequest(`invalid JSON: ${(e as Error).message}`);
  }
  if (!isObject(req)) throw badRequest(`the request must be a JSON object, found ${describe(req)}`);
  const id = req.id;
  if (id !== undefined && typeof id !== 'string') throw badRequest(`id must be a string, found ${describe(id)}`);
  const params = parameters(req.parameters, 'parameters');
  const binaryOutput = boolParam(params, 'binary_data_output', 'parameters') ?? false;

  const { x, n, binaryBytes } = readInput(req.inputs, model, body.subarray(jsonBytes), body.length);
  if (binaryBytes !== body.length - jsonBytes) {
    throw badRequest(`the body has ${body.length - jsonBytes} bytes after the JSON but the inputs' binary_data_size add up to ${binaryBytes}`);
  }
  return { id, x, n, outputs: readOutputs(req.outputs, model, binaryOutput) };
}

function readInput(inputs: unknown, model: ModelShape, binary: Buffer, bodyBytes: number): { x: Float32Array; n: number; binaryBytes: number } {
  if (!Array.isArray(inputs) || inputs.length === 0) throw badRequest(`inputs must be a non-empty array, found ${inputs === undefined ? 'nothing' : describe(inputs)}`);
  if (inputs.length > 1) throw badRequest(`inputs has ${inputs.length} tensors but model ${model.name} takes one, "${INPUT_NAME}"`);
  const input: unknown = inputs[0];
  if (!isObject(input)) throw badRequest(`inputs[0] must be an object, found ${describe(input)}`);
  if (input.name !== INPUT_NAME) throw badRequest(`unknown input ${typeof input.name === 'string' ? JSON.stringify(input.name) : describe(input.name)}: model ${model.name} takes one input, "${INPUT_NAME}"`);
  if (input.datatype !== 'FP32') throw badRequest(`input datatype is ${typeof input.datatype === 'string' ? input.datatype : describe(input.datatype)} but model ${model.name} takes FP32`);
  const shape = readShape(input.shape, model);
  const count = product(shape);
  const params = parameters(input.parameters, 'inputs[0].parameters');
  const size = params.binary_data_size;
  if (size === undefined) {
    if (input.data === undefined) throw badRequest('input has neither data nor parameters.binary_data_size');
    // Before anything is allocated: a shape of [1e9, …] must not reserve gigabytes (binary sizes are checked against the body below).
    if (count > bodyBytes) throw badRequest(`input shape [${shape.join(', ')}] needs ${count} values, more than a ${bodyBytes}-byte body can hold`);
    return { x: floatsFromJson(input.data, shape), n: shape[0], binaryBytes: 0 };
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw badRequest(`binary_data_size must be a non-negative integer, found ${describe(size)}`);
  if (input.data !== undefined) throw badRequest('input has both data and binary_data_size; send one');
  if (size !== 4 * count) throw badRequest(`binary_data_size is ${size} but shape [${shape.join(', ')}] of FP32 is ${4 * count} bytes`);
  if (binary.length < size) throw badRequest(`binary_data_size is ${size} but only ${binary.length} bytes follow the JSON`);
  return { x: floatsFromBytes(binary.subarray(0, size), 'input'), n: shape[0], binaryBytes: size };
}

function readShape(shape: unknown, model: ModelShape): number[] {
  const [c, h, w] = model.inputShape;
  const want = `[N, ${c}, ${h}, ${w}]`;
  if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'number' && Number.isSafeInteger(d) && d >= 0)) {
    throw badRequest(`input shape must be an array of non-negative integers ${want}, found ${Array.isArray(shape) ? JSON.stringify(shape).slice(0, 60) : describe(shape)}`);
  }
  if (shape.length !== 4 || shape[1] !== c || shape[2] !== h || shape[3] !== w) throw badRequest(`input shape [${shape.join(', ')}] does not match model ${model.name}'s ${want}`);
  if (shape[0] < 1) throw badRequest('input shape has batch size 0; send at least one image');
  return shape as number[];
}

function readOutputs(outputs: unknown, model: ModelShape, binaryDefault: boolean): RequestedOutput[] {
  if (outputs === undefined) return model.outputs.map((o) => ({ name: o.name, binary: binaryDefault }));
  if (!Array.isArray(outputs)) throw badRequest(`outputs must be an array, found ${describe(outputs)}`);
  const seen = new Set<string>();
  return outputs.map((o: unknown, i): RequestedOutput => {
    if (!isObject(o) || typeof o.name !== 'string') throw badRequest(`outputs[${i}] must be an object with a name`);
    if (!model.outputs.some((m) => m.name === o.name)) throw badRequest(`unknown output ${JSON.stringify(o.name)}: model ${model.name} has ${model.outputs.map((m) => `"${m.name}"`).join(', ')}`);
    if (seen.has(o.name)) throw badRequest(`output ${JSON.stringify(o.name)} is requested twice`);
    seen.add(o.name);
    const params = parameters(o.parameters, `outputs[${i}].parameters`);
    if (params.classification !== undefined) throw badRequest('the classification parameter is not supported: POST the image to /v2/models/{name}/classify for top-k labels');
    return { name: o.name, binary: boolParam(params, 'binary_data', `outputs[${i}].parameters`) ?? binaryDefault };
  });
}

function parameters(p: unknown, where: string): Record<string, unknown> {
  if (p === undefined) return {};
  if (!isObject(p)) throw badRequest(`${where} must be an object, found ${describe(p)}`);
  return p;
}

function boolParam(p: Record<string, unknown>, key: string, where: string): boolean | undefined {
  const v = p[key];
  if (v !== undefined && typeof v !== 'boolean') throw badRequest(`${where}.${key} must be true or false, found ${describe(v)}`);
  return v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
