/**
 * Program → model.json (runtime/format/manifest.ts). The body is everything but the wasm files;
 * the wasm tag embeds layoutOf(body), and the manifest is the body plus the finished modules' sizes
 * and hashes, so nothing is drafted with placeholders.
 */
import type { Manifest, ManifestOutput, Preprocessing, StepTensor } from '../../runtime/format/manifest.js';
import { MANIFEST_FORMAT, MANIFEST_VERSION } from '../../runtime/format/manifest.js';
import type { VggConfig } from '../frontend/config/config.js';
import { presetPreprocessing } from '../frontend/config/preprocessing.js';
import { configJson } from '../frontend/config/config-json.js';

export { configJson };
import { paramCount } from '../graph/graph.js';
import { packageVersion } from '../paths.js';
import { describeStep, type ArenaTensor, type Program, type ProgramOutput } from '../program.js';
import { layoutName } from '../weights/layout.js';
import type { WeightShard } from '../../runtime/format/manifest.js';

export type ManifestBody = Omit<Manifest, 'wasm'>;

export interface WeightsFacts {
  /** SHA-256 of the whole weights payload. */
  readonly sha256: string;
  /** The files the payload was written as. */
  readonly shards: readonly WeightShard[];
  /** Where the values came from, for people: a file path or `seeded random weights (seed 0)`. */
  readonly source: string;
}

export function manifestBody(program: Program, weights: WeightsFacts, labels: readonly string[] | null): ManifestBody {
  const { graph, memory } = program;
  const config = graph.config;
  const macs = program.steps.reduce((n, s) => n + s.schedule.macs, 0);
  return {
    format: MANIFEST_FORMAT,
    formatVersion: MANIFEST_VERSION,
    vggcVersion: packageVersion(),
    name: config.name,
    config: configJson(config),
    kernels: program.variant,
    weights: {
      payloadBytes: program.weights.payloadBytes,
      sha256: weights.sha256,
      source: weights.source,
      dtype: program.weightsDtype,
      tensors: program.weights.tensors.map((t) => ({ key: t.param.key, shape: [...t.param.shape], layout: layoutName(t.layout), offset: t.offset, byteLength: t.byteLength })),
      shards: weights.shards.map((s) => ({ ...s })),
    },
    memory: { pages: memory.pages, arenaBase: memory.arenaBase, arenaBytes: memory.arenaBytes, peakLiveBytes: memory.peakLiveBytes, weightsBase: memory.weightsBase, shared: true, maxWorkers: memory.maxWorkers, params: memory.params },
    input: { offset: program.input.offset, shape: [graph.input.c, graph.input.h, graph.input.w] },
    outputs: program.outputs.map((o) => ({
      name: o.name,
      shape: [...o.shape],
      layout: outputLayout(o, config.outputLayout),
      ...(o.flattened ? { flattened: [...o.flattened] } : {}),
      phase: o.phase,
      tensor: stepTensor(o.tensor),
    })),
    maxBatch: program.maxBatch,
    steps: program.steps.map((s) => ({
      function: s.exportName,
      kind: s.kind === 'conv-direct' || s.kind === 'conv-winograd' ? 'conv' : s.kind,
      phase: s.schedule.phase,
      kernel: s.kernel,
      workItems: s.schedule.workItems,
      workGrain: s.schedule.workGrain,
      macs: s.schedule.macs,
      description: describeStep(s),
      output: stepTensor(s.output),
    })),
    prepare: program.steps.flatMap((s) => (s.kind === 'conv-winograd' && s.prepared ? [{ function: s.prepared.exportName, workItems: s.prepared.workItems, kernel: s.prepared.kernel, bytes: s.prepared.bytes }] : [])),
    preprocessing: preprocessingFor(config),
    labels,
    totals: { params: paramCount(graph), macs },
  };
}

/**
 * Maps as the config asks; vectors as features, except a flatten of a map larger than 1×1 in an NHWC
 * model, which Keras flattens in (h, w, c) order.
 */
function outputLayout(o: ProgramOutput, layout: 'nchw' | 'nhwc'): ManifestOutput['layout'] {
  if (o.shape.length === 3) return layout;
  return o.flattened && layout === 'nhwc' && o.flattened[1] * o.flattened[2] > 1 ? 'features-hwc' : 'features';
}

function stepTensor(t: ArenaTensor): StepTensor {
  const l = t.layout;
  if (l.kind === 'vector') return { offset: t.offset, bytes: t.bytes, layout: 'vector', shape: [l.length], imageStride: l.stored };
  const shape = [l.shape.c, l.shape.h, l.shape.w];
  return l.kind === 'nchw'
    ? { offset: t.offset, bytes: t.bytes, layout: 'nchw', shape }
    : { offset: t.offset, bytes: t.bytes, layout: 'nhwc-pad1', shape, channelStride: l.channelStride, rows: l.rows, cols: l.cols };
}

/** The config's preprocessing, or torchvision's ImageNet evaluation transform scaled to the input size. */
export function preprocessingFor(config: VggConfig): Preprocessing {
  const channels = config.blocks[0][0];
  const fail = (m: string): never => {
    throw new Error(m); // the torch convention applies to every channel count
  };
  return { channels, ...(config.preprocessing ?? presetPreprocessing('torch', channels, config.inputSize, fail)) };
}
