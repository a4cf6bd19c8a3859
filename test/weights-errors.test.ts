// Bad weights files: each must fail with one exact, one-line VggcError naming the file and the
// tensor or field. Byte-level cases are committed fixtures (test/fixtures/bad/weights/, regenerated
// by make-fixtures.mjs there); key/shape cases are written on the fly with writeSafetensors.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { VggcError } from '../compiler/errors.js';
import type { ParamTensor } from '../compiler/graph/graph.js';
import { openSafetensors } from '../compiler/frontend/safetensors/read.js';
import { type SafetensorsTensor, writeSafetensors } from '../compiler/frontend/safetensors/write.js';
import { errorOf, TOY_PARAMS } from './helpers.js';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures/bad/weights');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'vggc-weights-bad-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** The toy network the fixtures are made for (see make-fixtures.mjs). */
const params = TOY_PARAMS;

/** Opens the file and reads every tensor, so errors found at open or at read time both surface. */
function load(file: string): void {
  const src = openSafetensors(file, params);
  try {
    for (const p of params) src.readRows(p, 0, p.shape[0]);
  } finally {
    src.close();
  }
}

describe('malformed safetensors files (fixtures)', () => {
  const cases: [file: string, message: string][] = [
    ['short', 'file is 3 bytes, too short for a safetensors header (at least 8)'],
    ['header-past-eof', 'header length 1000 runs past the end of the file (10 bytes)'],
    ['header-too-big', 'header length 200000000 exceeds the 100000000-byte limit (not a safetensors file?)'],
    ['not-object', 'header is not a JSON object (found an array)'],
    ['duplicate-key', 'header lists tensor features.0.bias more than once'],
    ['entry-not-object', 'tensor features.0.bias: header entry is not an object'],
    ['no-dtype', 'tensor features.0.bias has no "dtype" string (found nothing)'],
    ['bad-shape', 'tensor features.0.bias has an invalid "shape" [2,-1]; expected an array of non-negative integers'],
    ['bad-offsets', 'tensor features.0.bias has invalid "data_offsets" [0]; expected [begin, end] with non-negative integers'],
    ['unknown-dtype', 'tensor features.0.bias has unknown dtype "Q4" (vggc reads F32, F16, BF16 and F64)'],
    ['int-dtype', 'tensor features.0.bias has dtype I64; vggc reads only F32, F16, BF16 and F64'],
    ['reversed-offsets', 'tensor features.0.bias has data_offsets [8, 0] whose end is before its begin'],
    ['size-mismatch', 'tensor features.0.bias has shape [2] of F32 (8 bytes) but data_offsets [0, 12] span 12 bytes'],
    ['overlap', 'tensor features.0.bias (data_offsets [0, 8]) overlaps tensor classifier.0.bias (data_offsets [4, 16])'],
    ['truncated', 'file is truncated: tensor classifier.0.bias ends at byte 443 but the file has 403 bytes'],
    ['nan', 'tensor features.0.weight has NaN at index [1, 0, 2, 1] (use --allow-nonfinite to accept it)'],
    ['inf-bf16', 'tensor classifier.0.bias has -Infinity at index [2] (use --allow-nonfinite to accept it)'],
  ];
  for (const [name, message] of cases) {
    it(name, () => {
      const file = path.join(fixtures, `${name}.safetensors`);
      expect(errorOf(() => load(file))).toBe(`${file}: ${message}`);
    });
  }

  it('bad JSON reports the parser message', () => {
    const file = path.join(fixtures, 'bad-json.safetensors');
    expect(errorOf(() => load(file))).toMatch(new RegExp(`^${file}: header is not valid JSON \\(.+\\)$`));
  });

  it('non-finite values load when allowNonfinite is set', () => {
    const src = openSafetensors(path.join(fixtures, 'nan.safetensors'), params, { allowNonfinite: true });
    expect(Number.isNaN(src.readRows(params[0], 1, 2)[7])).toBe(true);
    src.close();
  });
});

describe('safetensors files that do not match the config', () => {
  const tensors = (keyOf: (p: ParamTensor) => string = (p) => p.key): SafetensorsTensor[] =>
    params.map((p) => ({ key: keyOf(p), shape: [...p.shape], data: new Float32Array(p.shape.reduce((a, b) => a * b, 1)) }));
  const write = (name: string, ts: SafetensorsTensor[]) => {
    const file = path.join(tmp, `${name}.safetensors`);
    writeSafetensors(file, ts);
    return file;
  };

  it('missing file', () => {
    const file = path.join(tmp, 'nope.safetensors');
    expect(errorOf(() => load(file))).toBe(`${file}: cannot open weights file (ENOENT)`);
  });

  it('missing tensor', () => {
    const file = write('missing', tensors().filter((t) => t.key !== 'classifier.0.weight'));
    expect(errorOf(() => load(file))).toBe(`${file}: missing tensor classifier.0.weight (expected shape [3, 4])`);
  });

  it("missing tensor, named in the notebook's layout", () => {
    const file = write('missing-nb', tensors((p) => p.notebookKey).filter((t) => !t.key.endsWith('conv_block.0.bias')));
    expect(errorOf(() => load(file))).toBe(`${file}: missing tensor conv_backbone.features.0.conv_block.0.bias (expected shape [2])`);
  });

  it('mis-shaped tensor', () => {
    const ts = tensors();
    ts[0] = { ...ts[0], shape: [1, 2, 3, 3] };
    const file = write('shape', ts);
    expect(errorOf(() => load(file))).toBe(`${file}: tensor features.0.weight has shape [1, 2, 3, 3] but the config expects [2, 1, 3, 3]`);
  });

  it('extra tensor', () => {
    const file = write('extra', [...tensors(), { key: 'features.3.weight', shape: [1], data: new Float32Array(1) }, { key: 'features.3.bias', shape: [1], data: new Float32Array(1) }]);
    expect(errorOf(() => load(file))).toBe(`${file}: unexpected tensor features.3.weight (not a parameter of this config; 2 unexpected tensors in total)`);
  });

  it('batch-norm buffers are extras, with a hint', () => {
    const file = write('bn', [...tensors(), { key: 'features.1.num_batches_tracked', shape: [], data: new Float32Array(1) }]);
    expect(errorOf(() => load(file))).toBe(`${file}: unexpected tensor features.1.num_batches_tracked (not a parameter of this config, looks like batch-norm state)`);
  });

  it('keys that mix the two layouts: the minority are extras', () => {
    const ts = tensors();
    ts[1] = { ...ts[1], key: params[1].notebookKey };
    const file = write('mixed', ts);
    expect(errorOf(() => load(file))).toBe(`${file}: missing tensor features.0.bias (expected shape [2])`);
  });

  it('unprintable keys are quoted', () => {
    const file = write('quoted', [...tensors(), { key: 'weird key', shape: [1], data: new Float32Array(1) }]);
    expect(errorOf(() => load(file))).toBe(`${file}: unexpected tensor "weird key" (not a parameter of this config)`);
  });
});
