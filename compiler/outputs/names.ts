/**
 * The names an output can be asked for by (`vggc compile --outputs`, config `outputs`), for every
 * tensor of the layer graph a user may want:
 *
 * - torchvision's module names: `features.22`, `classifier.4`, `avgpool`, `flatten`;
 * - the seed notebook's: `conv_backbone.features.3.conv_block.2`;
 * - the conventional VGG names: `convB_J` (after the convolution and its BatchNorm, before ReLU),
 *   `reluB_J`, `poolB`, `fc6_pre` / `fc7_pre` (a hidden Linear's output), `fc6` / `fc7` (after its
 *   ReLU), `logits` (the last Linear), `probabilities` (after a softmax or sigmoid head);
 * - the source model's own layer names (Keras/TF.js: `block4_conv3`, `block4_pool`, `fc1`, …), given
 *   by its front end as aliases of the conventional names.
 *
 * A tap is the tensor after one op of the graph. The one tensor no VGG kernel ever computes is a
 * BatchNorm model's convolution output before its BatchNorm (it is folded into the filter); asking
 * for it is an error that names the tap to use instead.
 */
import { VggcError } from '../errors.js';
import type { LayerGraph, MapShape } from '../graph/graph.js';

export interface TapPoint {
  /** Index into graph.ops: the tensor after this op. */
  readonly op: number;
  /** The conventional name (conv4_3, relu4_3, pool4, avgpool, flatten, fc6_pre, fc6, logits, probabilities). */
  readonly canonical: string;
  /** Every name it answers to, canonical first. */
  readonly names: readonly string[];
  /** Per image: a map (c, h, w) or a vector. */
  readonly shape: { readonly kind: 'map'; readonly map: MapShape } | { readonly kind: 'vector'; readonly features: number; readonly flattened?: MapShape };
}

/** Names that point at a tensor vggc does not compute, with what to ask for instead. */
export type Unavailable = ReadonlyMap<string, string>;

/** Every tap of `graph`, in network order; `aliases` maps the source's own layer names to canonical ones. */
export function tapPoints(graph: LayerGraph, aliases: ReadonlyMap<string, string> = new Map()): { taps: TapPoint[]; unavailable: Unavailable } {
  const taps: TapPoint[] = [];
  const unavailable = new Map<string, string>();
  const bn = graph.config.batchNorm;
  const perConv = bn ? 3 : 2;
  const add = (op: number, canonical: string, names: string[], shape: TapPoint['shape']): void => void taps.push({ op, canonical, names: [canonical, ...names], shape });
  // torchvision's features.N and the notebook's conv_backbone.features.B.conv_block.J, op by op.
  let feature = 0;
  let block = 0;
  let inBlock = 0; // index inside the block's nn.Sequential (notebook)
  let linear = 0;
  let classifierIndex = 0;
  graph.ops.forEach((op, i) => {
    const tv = `features.${feature}`;
    const nb = `conv_backbone.features.${block}.conv_block.${inBlock}`;
    const map = (m: MapShape): TapPoint['shape'] => ({ kind: 'map', map: m });
    switch (op.kind) {
      case 'conv3x3': {
        const id = op.id; // conv{b}_{j}
        if (bn) {
          const instead = `${id} (after its BatchNorm, which vggc folds into the convolution)`;
          unavailable.set(tv, instead);
          unavailable.set(nb, instead);
        } else add(i, id, [tv, nb], map(op.output));
        feature++;
        inBlock++;
        return;
      }
      case 'batchnorm2d':
        add(i, op.id.replace(/^bn/, 'conv'), [tv, nb], map(op.shape));
        feature++;
        inBlock++;
        return;
      case 'relu':
        if ('c' in op.shape) {
          add(i, op.id, [tv, nb], map(op.shape));
          feature++;
          inBlock++;
        } else {
          // A hidden Linear's ReLU, and the Dropout after it (the identity at inference).
          add(i, `fc${5 + linear}`, [`classifier.${classifierIndex - 2}`, `classifier.${classifierIndex - 1}`], { kind: 'vector', features: op.shape.features });
        }
        return;
      case 'maxpool2x2':
        add(i, op.id, [tv, nb], map(op.output));
        feature++;
        block++;
        inBlock = 0;
        return;
      case 'adaptivePool':
        add(i, op.id, [], map(op.output));
        return;
      case 'flatten':
        // The map it flattens (c, h, w order, as torch.flatten), so an NHWC model can have Keras's order.
        add(i, 'flatten', [], { kind: 'vector', features: op.features, flattened: op.input });
        return;
      case 'linear': {
        linear++;
        // From the config, not the ops after it: a graph cut after this layer has lost them.
        const last = linear > graph.config.classifier.length;
        const relu = !last && graph.config.classifier[linear - 1].relu;
        const canonical = last ? 'logits' : relu ? `fc${5 + linear}_pre` : `fc${5 + linear}`;
        add(i, canonical, [`classifier.${classifierIndex}`, ...(!last && !relu ? [`fc${5 + linear}_pre`] : [])], { kind: 'vector', features: op.outFeatures });
        classifierIndex += relu ? 3 : 1;
        return;
      }
      case 'outputActivation':
        add(i, 'probabilities', [op.fn], { kind: 'vector', features: op.features });
        return;
    }
  });
  // The source's own names (Keras layer names) as aliases.
  const byCanonical = new Map(taps.map((t) => [t.canonical, t]));
  for (const [alias, canonical] of aliases) {
    const t = byCanonical.get(canonical);
    if (t && !t.names.includes(alias)) (t.names as string[]).push(alias);
  }
  return { taps, unavailable };
}

export interface ResolvedOutput {
  /** The name as requested (it names the output in model.json, `inferAll` and `--outputs-dir`). */
  readonly name: string;
  readonly tap: TapPoint;
}

/** The requested names resolved to taps, in the order asked; one-line errors naming `label`. */
export function resolveOutputs(graph: LayerGraph, requested: readonly string[], aliases: ReadonlyMap<string, string>, label: string): ResolvedOutput[] {
  const fail = (msg: string): never => {
    throw new VggcError(`${label}: ${msg}`);
  };
  const { taps, unavailable } = tapPoints(graph, aliases);
  const byName = new Map<string, TapPoint>();
  for (const t of taps) for (const n of t.names) if (!byName.has(n)) byName.set(n, t);
  const seen = new Map<string, string>(); // canonical → the name that asked for it
  if (requested.length === 0) fail('outputs is empty; name at least one layer, or leave it out for the logits');
  return requested.map((name) => {
    const tap = byName.get(name);
    if (!tap) {
      const instead = unavailable.get(name);
      if (instead) return fail(`output ${JSON.stringify(name)} is a convolution's output before its BatchNorm, which vggc does not compute; ask for ${instead}`);
      const after = /^classifier\.(\d+)$/.exec(name);
      const lastIndex = taps.filter((t) => t.canonical === 'logits').flatMap((t) => t.names).find((n) => n.startsWith('classifier.'));
      if (after && lastIndex && Number(after[1]) > Number(lastIndex.split('.')[1])) {
        return fail(`output ${JSON.stringify(name)} is after the logits (${lastIndex}, the last layer)`);
      }
      return fail(`unknown output ${JSON.stringify(name)}; names near it: ${nearest(name, [...byName.keys()]).join(', ')} (vggc summary lists every layer's names)`);
    }
    const earlier = seen.get(tap.canonical);
    if (earlier !== undefined) fail(`output ${JSON.stringify(name)} is the same tensor as ${JSON.stringify(earlier)}, asked for already`);
    seen.set(tap.canonical, name);
    return { name, tap };
  });
}

/** Up to five names closest to `name` (edit distance), for "did you mean". */
function nearest(name: string, names: readonly string[]): string[] {
  return [...names]
    .map((n) => ({ n, d: editDistance(name.toLowerCase(), n.toLowerCase()) }))
    .sort((a, b) => a.d - b.d || a.n.localeCompare(b.n))
    .slice(0, 5)
    .map((x) => x.n);
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}
