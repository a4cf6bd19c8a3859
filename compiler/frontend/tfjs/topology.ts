/**
 * A Keras model's layers as one plain chain, input to output. Sequential models are chains by
 * construction; a Functional model (keras.applications' VGG16/VGG19 layout) must be one: every layer
 * takes exactly the previous layer's output and feeds exactly the next. Models nested as layers
 * (transfer learning: `Sequential([VGG16(include_top=False), Flatten(), Dense(...)])`) are spliced in.
 *
 * inbound_nodes come in three spellings, all read here:
 *   Keras 2 and tfjs-layers 4.x:  [[["block1_conv1", 0, 0, {}]]]
 *   Keras 3:                      [{ args: [{ class_name: "__keras_tensor__", config: { keras_history: ["block1_conv1", 0, 0] } }], kwargs: {} }]
 */
import { VggcError } from '../../errors.js';
import { field, isObject, quote, show, type JsonObject } from './json-fields.js';
import type { KerasObject } from './model-json.js';

export interface KerasLayer {
  readonly name: string;
  readonly className: string;
  readonly config: JsonObject;
}

const MODEL_CLASSES = new Set(['Sequential', 'Functional', 'Model']);

/** The model's layers in order, nested models expanded, InputLayers other than the first dropped. */
export function layerChain(model: KerasObject, path: string): KerasLayer[] {
  const fail = (msg: string): never => {
    throw new VggcError(`${path}: ${msg}`);
  };
  if (!MODEL_CLASSES.has(model.className)) fail(`modelTopology has class_name ${show(model.className)}; vggc reads Sequential and Functional models`);
  const flat = expand(model, 'modelTopology', fail, 0);
  // A nested model brings its own InputLayer; only the outermost first one describes the input.
  const chain = flat.filter((l, i) => l.className !== 'InputLayer' || i === 0);
  const seen = new Set<string>();
  for (const l of chain) {
    if (seen.has(l.name)) fail(`two layers are named ${quote(l.name)}; weights are matched to layers by name, so names must be unique`);
    seen.add(l.name);
  }
  return chain;
}

/** Deeper nesting than this is not a VGG; the bound also keeps a hostile file from exhausting the stack. */
const MAX_NESTING = 8;

function expand(model: KerasObject, where: string, fail: (msg: string) => never, depth: number): KerasLayer[] {
  if (depth > MAX_NESTING) fail(`${where}: models nested more than ${MAX_NESTING} deep`);
  const layers = model.className === 'Sequential' ? sequentialLayers(model, where, fail) : functionalChain(model, where, fail);
  return layers.flatMap((l) =>
    MODEL_CLASSES.has(l.className) ? expand({ className: l.className, config: l.config }, `layer ${quote(l.name)} (${l.className})`, fail, depth + 1) : [l],
  );
}

/** One entry of a `layers` list as a KerasLayer; `name` comes from the entry or its config. */
function toLayer(entry: unknown, where: string, index: number, fail: (msg: string) => never): KerasLayer {
  if (!isObject(entry)) return fail(`${where}: layers[${index}] must be an object with class_name and config, not ${show(entry)}`);
  const className = field(entry, 'class_name');
  const config = entry.config;
  if (typeof className !== 'string') return fail(`${where}: layers[${index}] has no class_name`);
  if (!isObject(config)) return fail(`${where}: layers[${index}] (${className}) has no config object`);
  const name = typeof entry.name === 'string' ? entry.name : config.name;
  if (typeof name !== 'string' || name === '') return fail(`${where}: layers[${index}] (${className}) has no name`);
  return { name, className, config };
}

function sequentialLayers(model: KerasObject, where: string, fail: (msg: string) => never): KerasLayer[] {
  // Keras 1 / early Keras 2 wrote a Sequential's config as the bare list of layers.
  const list = Array.isArray(model.config) ? model.config : isObject(model.config) ? model.config.layers : undefined;
  if (!Array.isArray(list)) return fail(`${where}: the Sequential model has no config.layers list`);
  return list.map((entry, i) => toLayer(entry, where, i, fail));
}

interface FunctionalLayer extends KerasLayer {
  /** Names of the layers whose outputs this layer takes (one per input tensor). */
  readonly inputs: readonly string[];
}

function functionalChain(model: KerasObject, where: string, fail: (msg: string) => never): KerasLayer[] {
  const config = model.config;
  if (!isObject(config) || !Array.isArray(config.layers)) return fail(`${where}: the ${model.className} model has no config.layers list`);
  const layers = config.layers.map((entry, i): FunctionalLayer => {
    const layer = toLayer(entry, where, i, fail);
    return { ...layer, inputs: inboundLayers((entry as JsonObject).inbound_nodes ?? (entry as JsonObject).inboundNodes, layer, fail) };
  });
  const byName = new Map<string, FunctionalLayer>();
  for (const l of layers) {
    if (byName.has(l.name)) fail(`${where}: two layers are named ${quote(l.name)}`);
    byName.set(l.name, l);
  }
  const input = endpoint(field(config, 'input_layers'), 'input_layers', where, fail);
  const output = endpoint(field(config, 'output_layers'), 'output_layers', where, fail);
  const consumers = new Map<string, FunctionalLayer[]>();
  for (const l of layers) {
    for (const from of l.inputs) {
      if (!byName.has(from)) fail(`layer ${quote(l.name)} (${l.className}): takes the output of ${quote(from)}, which is not a layer of ${where}`);
      consumers.set(from, [...(consumers.get(from) ?? []), l]);
    }
  }
  const first = byName.get(input) ?? fail(`${where}: input_layers names ${quote(input)}, which is not one of its layers`);
  if (!byName.has(output)) fail(`${where}: output_layers names ${quote(output)}, which is not one of its layers`);
  const chain: FunctionalLayer[] = [first];
  for (let cur = first; cur.name !== output; ) {
    const next = consumers.get(cur.name) ?? [];
    if (next.length === 0) fail(`layer ${quote(cur.name)} (${cur.className}): feeds no layer, but the model's output is ${quote(output)}; vggc reads a plain chain of layers`);
    if (next.length > 1) {
      fail(`layer ${quote(cur.name)} (${cur.className}): feeds ${next.length} layers (${next.map((n) => quote(n.name)).join(', ')}); vggc reads a plain chain of layers, no branches`);
    }
    cur = next[0];
    if (chain.includes(cur)) fail(`layer ${quote(cur.name)} (${cur.className}): is reached twice (a cycle)`);
    chain.push(cur);
  }
  const stray = layers.find((l) => !chain.includes(l));
  if (stray) fail(`layer ${quote(stray.name)} (${stray.className}): is not on the path from ${quote(input)} to ${quote(output)}; vggc reads a plain chain of layers`);
  return chain;
}

/** Layer names referenced by a layer's inbound_nodes, refusing anything but one call on one input. */
function inboundLayers(nodes: unknown, layer: KerasLayer, fail: (msg: string) => never): string[] {
  const at = `layer ${quote(layer.name)} (${layer.className})`;
  if (nodes === undefined || nodes === null) return [];
  if (!Array.isArray(nodes)) return fail(`${at}: inbound_nodes must be a list, not ${show(nodes)}`);
  if (nodes.length === 0) return [];
  if (nodes.length > 1) fail(`${at}: is called ${nodes.length} times (a shared layer); vggc reads a plain chain of layers`);
  const names: string[] = [];
  collectHistory(nodes[0], names, at, fail, 0);
  if (names.length === 0) fail(`${at}: inbound_nodes names no input layer (${show(nodes[0])})`);
  if (names.length > 1) fail(`${at}: takes ${names.length} inputs (${names.map(quote).join(', ')}); vggc reads a plain chain of layers, no branches`);
  return names;
}

/**
 * Adds the layer names one inbound node refers to: Keras 2 / tfjs `[[name, node, tensor, kwargs], …]`
 * or Keras 3 `{ args: [...keras tensors...], kwargs }` with `keras_history: [name, node, tensor]`.
 */
function collectHistory(node: unknown, names: string[], at: string, fail: (msg: string) => never, depth: number): void {
  if (depth > 16) fail(`${at}: inbound_nodes nested too deep`);
  if (Array.isArray(node)) {
    if (typeof node[0] === 'string' && (node.length === 1 || typeof node[1] === 'number')) {
      names.push(node[0]);
      return;
    }
    for (const item of node) collectHistory(item, names, at, fail, depth + 1);
    return;
  }
  if (!isObject(node)) return;
  if (isObject(node.config) && Array.isArray(node.config.keras_history)) {
    const [name] = node.config.keras_history;
    if (typeof name !== 'string') fail(`${at}: keras_history ${show(node.config.keras_history)} does not start with a layer name`);
    names.push(name as string);
    return;
  }
  // Keras 3 puts the tensors in args; kwargs hold options (training flags, masks), never layer inputs here.
  if ('args' in node) collectHistory(node.args, names, at, fail, depth + 1);
}

/** `input_layers` / `output_layers`: exactly one `[name, 0, 0]` (Keras 3 may write it unnested). */
function endpoint(v: unknown, key: string, where: string, fail: (msg: string) => never): string {
  const list = Array.isArray(v) && typeof v[0] === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0) return fail(`${where}: config.${key} is missing or empty`);
  if (list.length > 1) fail(`${where}: has ${list.length} ${key === 'input_layers' ? 'inputs' : 'outputs'} (${show(list)}); a VGG has one`);
  const entry = list[0];
  const name = Array.isArray(entry) ? entry[0] : entry;
  if (typeof name !== 'string') return fail(`${where}: config.${key} entry ${show(entry)} does not name a layer`);
  return name;
}
