/**
 * model.json as TF.js writes it: `{ format, modelTopology, weightsManifest, ... }`. The topology has
 * two shapes in the wild:
 *
 *   tfjs-layers `model.save`:  modelTopology = { class_name, config, keras_version, backend }
 *   tensorflowjs_converter:    modelTopology = { keras_version, backend, model_config: { class_name, config } }
 *
 * Both are reduced here to the `{ class_name, config }` of the model itself.
 */
import * as fs from 'node:fs';
import { VggcError } from '../../errors.js';
import { field, isObject, show, type JsonObject } from './json-fields.js';

/** A serialised Keras object: a model or a layer. */
export interface KerasObject {
  readonly className: string;
  readonly config: unknown;
}

export interface ModelJson {
  readonly path: string;
  readonly model: KerasObject;
  /** `weightsManifest`, still unchecked (manifest.ts reads it). */
  readonly weightsManifest: unknown;
}

/**
 * model.json of VGG19 with long layer configs is ~50 KB; anything beyond this is not a layers model
 * and is refused before it is read whole.
 */
const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;

export function readModelJson(path: string): ModelJson {
  const fail = (msg: string): never => {
    throw new VggcError(`${path}: ${msg}`);
  };
  let text: string;
  try {
    const size = fs.statSync(path).size;
    if (size > MAX_MODEL_JSON_BYTES) fail(`is ${size} bytes; a TF.js model.json is at most ${MAX_MODEL_JSON_BYTES} bytes (weights belong in the .bin shards)`);
    text = fs.readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof VggcError) throw e;
    return fail(`cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return fail(`is not valid JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (!isObject(json)) return fail(`must hold a JSON object with modelTopology and weightsManifest, not ${show(json)}`);
  const format = json.format;
  if (format !== undefined && format !== null && format !== 'layers-model') {
    fail(`has format ${show(format)}; vggc reads TF.js layers models (format "layers-model"), not graph models`);
  }
  const topology = field(json, 'model_topology');
  if (!isObject(topology)) return fail('has no modelTopology object; vggc reads TF.js layers models (model.save or tensorflowjs_converter --output_format tfjs_layers_model)');
  if ('node' in topology || 'versions' in topology) fail('holds a TensorFlow GraphDef (a TF.js graph model); vggc reads TF.js layers models');
  const weightsManifest = field(json, 'weights_manifest');
  if (weightsManifest === undefined) fail('has no weightsManifest; the model\'s weights must come with it');
  return { path, model: unwrapTopology(topology, fail), weightsManifest };
}

function unwrapTopology(topology: JsonObject, fail: (msg: string) => never): KerasObject {
  // The converter's form nests the model one level down, next to keras_version and backend.
  const inner = field(topology, 'model_config');
  const model = inner === undefined ? topology : inner;
  if (!isObject(model)) return fail(`modelTopology.model_config must be an object with class_name and config, not ${show(model)}`);
  const className = field(model, 'class_name');
  if (typeof className !== 'string') return fail(`modelTopology${inner === undefined ? '' : '.model_config'} has no class_name (expected "Sequential", "Functional" or "Model")`);
  return { className, config: model.config };
}
