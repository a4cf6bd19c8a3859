// Property-based fuzzing of the ONNX importer (fast-check, fixed seeds): damaged .onnx files must give
// a model or a one-line VggcError that names the file — never another exception, a hang, or a read
// outside the file. Two targets of 10,000 cases each: byte-level damage to an encoded tiny VGG, and
// structural mutations of its ModelProto (op types, attributes, shapes, initializers, edges) encoded
// anew. Accepted models are also read whole through their weight source.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { buildGraph } from '../compiler/graph/graph.js';
import { importOnnx } from '../compiler/frontend/onnx/import.js';
import { VggcError } from '../runtime/format/errors.js';
import { tempDir } from './helpers.js';
import { tinyModel } from './onnx-tiny.js';

const { onnx } = onnxProto;
const RUNS = 10_000;
const work = tempDir('vggc-fuzz-onnx-');
const file = join(work, 'model.onnx');

/** Imports `bytes` as a .onnx file; success (weights read whole) or a one-line VggcError naming it. */
function checkOne(bytes: Uint8Array): 'ok' | 'refused' {
  writeFileSync(file, bytes);
  try {
    const imported = importOnnx(file);
    const source = imported.source(buildGraph(imported.config).params, { allowNonfinite: true });
    for (const p of buildGraph(imported.config).params) source.readRows(p, 0, p.shape[0]);
    source.close();
    return 'ok';
  } catch (e) {
    if (!(e instanceof VggcError)) throw new Error(`expected a VggcError, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.stack ?? String(e)}`);
    if (/[\r\n]/.test(e.message)) throw new Error(`message is not one line: ${JSON.stringify(e.message)}`);
    if (!e.message.startsWith(`${file}: `)) throw new Error(`message does not name the file: ${JSON.stringify(e.message)}`);
    return 'refused';
  }
}

const base = (bn: boolean): Uint8Array => onnx.ModelProto.encode(onnx.ModelProto.fromObject(tinyModel({ bn }))).finish();

describe('ONNX importer fuzzing', () => {
  it(`byte-level damage (${RUNS} cases)`, () => {
    const damage = fc.record({
      bn: fc.boolean(),
      flips: fc.array(fc.record({ at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }), { maxLength: 4 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      insert: fc.option(fc.record({ at: fc.nat(), bytes: fc.uint8Array({ maxLength: 8 }) }), { nil: undefined }),
    });
    let ok = 0;
    let refused = 0;
    fc.assert(
      fc.property(damage, (d) => {
        let b = Uint8Array.from(base(d.bn));
        for (const f of d.flips) b[f.at % b.length] ^= 1 << f.bit;
        if (d.insert) {
          const at = d.insert.at % (b.length + 1);
          b = Uint8Array.from([...b.subarray(0, at), ...d.insert.bytes, ...b.subarray(at)]);
        }
        if (d.cut !== undefined) b = b.subarray(0, d.cut % (b.length + 1));
        if (checkOne(b) === 'ok') ok++;
        else refused++;
      }),
      { numRuns: RUNS, seed: 0x0e01 },
    );
    expect(ok).toBeGreaterThan(0); // some damage (e.g. in weight bytes) still gives a model
    expect(refused).toBeGreaterThan(RUNS / 10); // and the damage really reaches the checks
  }, 120_000);

  it(`structural mutations of the ModelProto (${RUNS} cases)`, () => {
    const ops = ['Conv', 'Relu', 'MaxPool', 'BatchNormalization', 'Flatten', 'Gemm', 'MatMul', 'Add', 'Sigmoid', 'Identity', 'Dropout', 'AveragePool', 'GlobalAveragePool', 'Reshape', ''];
    const mutation = fc.record({
      bn: fc.boolean(),
      kind: fc.constantFrom('op', 'attr', 'dims', 'raw', 'input', 'output', 'drop-node', 'drop-init', 'elem-type', 'opset', 'shape'),
      pick: fc.nat(),
      value: fc.oneof(fc.integer({ min: -3, max: 70000 }), fc.double({ noNaN: false }), fc.constant(0)),
      op: fc.constantFrom(...ops),
      name: fc.constantFrom('input', 'c0', 'r0', 'p0', 'f0', 'logits', 'nope', ''),
    });
    let ok = 0;
    let refused = 0;
    fc.assert(
      fc.property(mutation, (m) => {
        const model = tinyModel({ bn: m.bn }) as OnnxTypes.IModelProto & { graph: OnnxTypes.IGraphProto };
        const nodes = model.graph.node!;
        const inits = model.graph.initializer!;
        const node = nodes[m.pick % nodes.length];
        const init = inits[m.pick % inits.length];
        const int = Math.trunc(Number.isFinite(m.value) ? m.value : 0);
        switch (m.kind) {
          case 'op': node.opType = m.op; break;
          case 'attr': {
            const a = node.attribute?.[m.pick % Math.max(1, node.attribute.length)];
            if (a?.ints) a.ints = a.ints.map((v, i) => (i === 0 ? int : v));
            else if (a && a.f !== undefined) a.f = m.value;
            else if (a) a.i = int;
            break;
          }
          case 'dims': init.dims = init.dims!.map((d, i) => (i === m.pick % init.dims!.length ? int : d)); break;
          case 'raw': init.rawData = (init.rawData as Uint8Array).subarray(0, m.pick % ((init.rawData as Uint8Array).length + 1)); break;
          case 'input': node.input = node.input!.map((x, i) => (i === 0 ? m.name : x)); break;
          case 'output': node.output = [m.name]; break;
          case 'drop-node': nodes.splice(m.pick % nodes.length, 1); break;
          case 'drop-init': inits.splice(m.pick % inits.length, 1); break;
          case 'elem-type': init.dataType = int; break;
          case 'opset': model.opsetImport = [{ domain: '', version: int }]; break;
          case 'shape': model.graph.input![0].type!.tensorType!.shape!.dim![m.pick % 4] = { dimValue: int }; break;
        }
        let bytes: Uint8Array;
        try {
          bytes = onnx.ModelProto.encode(onnx.ModelProto.fromObject(model)).finish();
        } catch {
          return; // onnx-proto itself refused to encode the mutation (e.g. a non-integer enum): nothing to import
        }
        if (checkOne(bytes) === 'ok') ok++;
        else refused++;
      }),
      { numRuns: RUNS, seed: 0x0e02 },
    );
    expect(ok).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(RUNS / 10);
  }, 120_000);
});
