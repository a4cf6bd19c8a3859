/**
 * `vggc summary DIR` of a folder vggc compiled: what its model.json says was built, without
 * recompiling anything — the layer table (from the config the folder records), the steps with the
 * kernels model.wasm exports, the outputs, the memory plan and the files. So it shows that compile's
 * choices (Winograd tiles, weights dtype, kernel variant, outputs) even where today's defaults differ.
 */
import type { LayerGraph } from '../graph/graph.js';
import type { Manifest } from '../../runtime/format/manifest.js';
import { WASM_PAGE_BYTES } from '../plan/memory.js';
import { layerTable, stepLine, SUMMARY_WIDTH } from './summary.js';

const MB = 1e6;

/** The folder's files as found on disk, beside what model.json records. */
export interface FolderFiles {
  /** model.wasm's size, or null when it is missing. */
  readonly wasmBytes: number | null;
  /** model-relaxed.wasm's size, or null when the compile made none or it is missing. */
  readonly relaxedBytes: number | null;
  /** Weight shards model.json lists that are not in the folder. */
  readonly missingShards: readonly string[];
}

export function renderCompiledSummary(folder: string, manifest: Manifest, graph: LayerGraph, files: FolderFiles): string {
  const line = '-'.repeat(SUMMARY_WIDTH);
  const [c, h, w] = manifest.input.shape;
  const first = manifest.outputs[0];
  const returns = first.name === 'logits' || first.name === 'probabilities' ? `${manifest.config.numClasses} classes (${first.name})` : `outputs ${manifest.outputs.map((o) => o.name).join(', ')}`;
  const out = [`${folder}: ${manifest.name}, compiled by vggc ${manifest.vggcVersion} (model.json format ${manifest.formatVersion}); input ${c}×${h}×${w} → ${returns}`];
  out.push(...layerTable(graph));
  out.push(line);
  out.push(`Compiled steps (${manifest.kernels} kernels, as model.wasm has them):`);
  manifest.steps.forEach((s, i) => {
    const detail = [s.macs ? `${(s.macs / 1e6).toFixed(1)} M MACs` : '', `${s.workItems} work item(s)`].filter((x) => x).join(', ');
    out.push(stepLine(i, s.description, s.kernel, detail));
  });
  out.push(line);
  out.push(`Outputs (what infer() returns first, then inferAll()'s others):`);
  for (const o of manifest.outputs) out.push(`  ${o.name.padEnd(14)} ${`[${o.shape.join(', ')}]`.padEnd(18)} ${o.layout}, ${o.phase === 'image' ? 'after each image\'s convolutions' : 'after the classifier'}`);
  out.push(line);
  const mem = manifest.memory;
  const prepared = (manifest.prepare ?? []).reduce((sum, p) => sum + p.bytes, 0);
  const dtype = manifest.weights.dtype ?? 'f32';
  out.push(`Memory plan:`);
  out.push(`  activation arena: ${(mem.arenaBytes / MB).toFixed(2)} MB (largest pair of live tensors ${(mem.peakLiveBytes / MB).toFixed(2)} MB)`);
  out.push(`  weights:          ${(manifest.weights.payloadBytes / MB).toFixed(2)} MB (${dtype})`);
  if (prepared) out.push(`  prepared at load: ${(prepared / MB).toFixed(2)} MB (f32 Winograd filters computed from the ${dtype} 3×3 filters by ${manifest.prepare?.length} prepare function(s))`);
  out.push(`  wasm memory:      ${mem.pages} pages = ${((mem.pages * WASM_PAGE_BYTES) / MB).toFixed(2)} MB, scratch for up to ${mem.maxWorkers} threads, up to ${manifest.maxBatch} images per classifier pass`);
  out.push(line);
  out.push(`Files:`);
  out.push(`  ${manifest.wasm.file.padEnd(20)} ${sizeOrMissing(files.wasmBytes, manifest.wasm.bytes)} (the deterministic build: the same bits on every engine)`);
  if (manifest.wasm.relaxed) out.push(`  ${manifest.wasm.relaxed.file.padEnd(20)} ${sizeOrMissing(files.relaxedBytes, manifest.wasm.relaxed.bytes)} (relaxed SIMD: loadModel's build: 'relaxed' or 'fastest')`);
  const shards = manifest.weights.shards;
  const shardFiles = shards.length === 1 ? shards[0].file : `${shards[0].file} … ${shards[shards.length - 1].file}`;
  out.push(`  ${shardFiles}: ${shards.length} shard(s), ${(manifest.weights.payloadBytes / MB).toFixed(2)} MB; ${manifest.weights.source}`);
  if (files.missingShards.length) out.push(`  missing: ${files.missingShards.join(', ')} (the folder will not load)`);
  return out.join('\n');
}

function sizeOrMissing(found: number | null, recorded: number): string {
  if (found === null) return 'missing (the folder will not load)';
  return found === recorded ? `${(found / 1e3).toFixed(1)} KB` : `${(found / 1e3).toFixed(1)} KB, but model.json records ${recorded} bytes (from another compile?)`;
}
