/**
 * model.wasm's `vggc` custom section: what a compiled module says about itself. It names the weights
 * it was compiled for (their SHA-256) and carries layoutOf(model.json), everything the kernels have
 * baked in as constants, so that a model.json edited by hand or taken from another compile is refused
 * at load instead of making kernels read or write the wrong memory.
 */
import { VggcError } from './errors.js';
import type { Manifest } from './manifest.js';

/** Name of the custom section. */
export const WASM_TAG_SECTION = 'vggc';

export interface WasmTag {
  readonly format: 'vggc-wasm';
  /** SHA-256 of the weights payload this module was compiled for. */
  readonly weightsSha256: string;
  /** `wasmsimd`, `wasmsimd-relaxed` or `scalar-ref`. */
  readonly kernels: string;
  /** layoutOf(model.json) at compile time. */
  readonly layout: unknown;
}

/** What a relaxed-SIMD twin's `kernels` ends with (`wasmsimd-relaxed`). */
const RELAXED_SUFFIX = '-relaxed';

/** The tag of the relaxed-SIMD twin of the module tagged `tag`: the same weights and layout, relaxed kernels. */
export const relaxedTwinTag = (tag: WasmTag): WasmTag => ({ ...tag, kernels: `${tag.kernels}${RELAXED_SUFFIX}` });

/** Whether a tag is a relaxed-SIMD twin's. */
export const isRelaxedTag = (tag: WasmTag): boolean => tag.kernels.endsWith(RELAXED_SUFFIX);

/** The parts of model.json that layoutOf reads: all of it but the wasm files, which the tag lives in. */
export type ManifestLayoutFields = Pick<Manifest, 'steps' | 'prepare' | 'memory' | 'input' | 'outputs' | 'maxBatch' | 'weights'>;

/** Everything in model.json that the compiled kernels have baked in: the step list and the memory layout. */
export function layoutOf(m: ManifestLayoutFields): unknown {
  return {
    steps: m.steps.map((s) => [s.function, s.workItems, s.phase]),
    ...(m.prepare?.length ? { prepare: m.prepare.map((p) => [p.function, p.workItems]) } : {}),
    memory: [m.memory.pages, m.memory.arenaBase, m.memory.arenaBytes, m.memory.weightsBase, m.memory.params, m.memory.maxWorkers, m.memory.shared],
    input: [m.input.offset, ...m.input.shape],
    outputs: m.outputs.map((o) => [o.name, o.phase, o.layout, ...o.shape, o.tensor.offset, o.tensor.bytes, o.tensor.channelStride ?? 0, o.tensor.rows ?? 0, o.tensor.cols ?? 0, o.tensor.imageStride ?? 0]),
    maxBatch: m.maxBatch,
    weights: [m.weights.payloadBytes, m.weights.sha256],
  };
}

export function readWasmTag(module: WebAssembly.Module, file: string): WasmTag {
  const sections = WebAssembly.Module.customSections(module, WASM_TAG_SECTION);
  if (sections.length !== 1) throw new VggcError(`${file}: not a vggc model (no "${WASM_TAG_SECTION}" section)`);
  try {
    const tag = JSON.parse(new TextDecoder().decode(sections[0]));
    if (typeof tag.weightsSha256 !== 'string') throw new Error('no weightsSha256');
    return tag;
  } catch {
    throw new VggcError(`${file}: the "${WASM_TAG_SECTION}" section is damaged`);
  }
}

/** model.wasm must have been compiled for exactly this model.json (same weights, same layout). */
export function checkWasmMatchesManifest(module: WebAssembly.Module, manifest: Manifest, wasmLabel: string, manifestLabel: string): void {
  const tag = readWasmTag(module, wasmLabel);
  if (tag.weightsSha256 !== manifest.weights.sha256) {
    throw new VggcError(`${wasmLabel}: was compiled for other weights than ${manifestLabel} describes (model.wasm and model.json come from different compiles)`);
  }
  if (JSON.stringify(tag.layout) !== JSON.stringify(layoutOf(manifest))) {
    throw new VggcError(`${manifestLabel}: its steps or memory layout differ from what ${wasmLabel} was compiled for (edited by hand, or from another compile)`);
  }
}
