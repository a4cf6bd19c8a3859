// Property-based fuzzing of the config parser (fast-check, fixed seeds so a failure is reproducible:
// fast-check prints the seed, the path and the shrunk counterexample).
//
// Property: parseConfig(text, file) either returns a valid config or throws a VggcError whose message
// is one line starting with the file name; never another exception type. Every accepted config then
// goes through planFromConfig (graph → fuse → schedule → memory plan), which must succeed or throw such
// a VggcError too (the only expected one: the model does not fit in 4 GiB of wasm memory).
//
// Cost: about 10 µs per JSON value and a few hundred µs per accepted config that reaches the memory
// plan, so each target's 10,000 cases take a few seconds.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../compiler/frontend/config/parse.js';
import type { VggConfig } from '../compiler/frontend/config/config.js';
import { planFromConfig } from '../compiler/pipeline.js';
import { VggcError } from '../runtime/format/errors.js';

const FILE = 'fuzz/dir/net.json';
const RUNS = 10_000;

/** A valid config that uses every field, so that mutations can reach every branch of the parser. */
const FULL = {
  name: 'fuzz-net',
  blocks: [
    [3, 1, 8],
    [8, 2, 12],
    [12, 1, 16],
  ],
  inputSize: [40, 32],
  batchNorm: false,
  batchNormEps: 1e-3,
  avgPool: [3, 3],
  classifier: [24, { features: 16, relu: false }],
  numClasses: 4,
  finalActivation: 'softmax',
  labels: ['cat', 'dog', 'bird', 'fish'],
  preprocessing: { resize: { shorterSide: 48 }, mean: [0.5, 0.4, 0.3], std: [0.2, 0.2, 0.25], channelOrder: 'bgr', pixelRange: [0, 255] },
};
const MINIMAL = { blocks: [[1, 1, 4]], inputSize: [8, 8], avgPool: null, classifier: [], numClasses: 2 };
const FIT = { ...FULL, avgPool: null, maxPool: [2, 1], finalActivation: 'sigmoid', preprocessing: { resize: { fit: [30, 30] }, mean: [0, 0, 0], std: [1, 1, 1] } };

/** Numbers a hand-edited or generated config might contain. */
const nastyNumber = fc.oneof(
  fc.constantFrom(0, -0, -1, 1, 2, 3, 0.5, 1.5, 1e-300, 1e308, -1e308, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 65536, 65537, 1e21, Number.MAX_VALUE, Number.MIN_VALUE),
  fc.integer({ min: -10, max: 70_000 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);
/** Any JSON value, leaning on the shapes the parser expects (lists of small numbers, pairs). */
const replacement: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: nastyNumber },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, '', [], {}, '7', ['a'], [[3, 1, 8]], [7, 7], [1e9, 1e9]) },
  { weight: 2, arbitrary: fc.array(nastyNumber, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.array(fc.array(nastyNumber, { maxLength: 4 }), { maxLength: 4 }) },
);

type Json = unknown;
type Mutation = { path: number; kind: 'delete' | 'replace' | 'wrap' | 'unwrap' | 'rename'; value: unknown; key: string };

/** Every [container, key] inside `v`, depth first (the root is not included). */
function slots(v: Json): [Record<string, Json> | Json[], string | number][] {
  const out: [Record<string, Json> | Json[], string | number][] = [];
  const walk = (x: Json): void => {
    if (Array.isArray(x)) x.forEach((c, i) => (out.push([x, i]), walk(c)));
    else if (x && typeof x === 'object') for (const k of Object.keys(x)) out.push([x as Record<string, Json>, k]), walk((x as Record<string, Json>)[k]);
  };
  walk(v);
  return out;
}

function mutate(base: Json, mutations: readonly Mutation[]): Json {
  const v = structuredClone(base);
  for (const m of mutations) {
    const all = slots(v);
    if (all.length === 0) break;
    const [parent, key] = all[m.path % all.length];
    const rec = parent as Record<string | number, Json>;
    switch (m.kind) {
      case 'delete':
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else delete rec[key];
        break;
      case 'replace':
        rec[key] = structuredClone(m.value);
        break;
      case 'wrap': // a value becomes a one-element list, a list becomes an object: the type changes
        rec[key] = Array.isArray(rec[key]) ? { ...(rec[key] as Json[]) } : [rec[key]];
        break;
      case 'unwrap':
        rec[key] = Array.isArray(rec[key]) ? (rec[key] as Json[])[0] : typeof rec[key] === 'number' ? String(rec[key]) : rec[key];
        break;
      case 'rename':
        if (!Array.isArray(parent)) {
          const x = rec[key];
          delete rec[key];
          rec[m.key] = x;
        } else parent.push(structuredClone(m.value));
        break;
    }
  }
  return v;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  path: fc.nat(),
  kind: fc.constantFrom('delete', 'replace', 'replace', 'replace', 'wrap', 'unwrap', 'rename'),
  value: replacement,
  key: fc.oneof(fc.constantFrom('name', 'blocks', 'labels', 'fit', 'shorterSide', 'mean', '__proto__', 'constructor', 'toString'), fc.string({ maxLength: 8 })),
});

const mutatedConfig = fc.tuple(fc.constantFrom<Json>(FULL, MINIMAL, FIT), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([b, ms]) => mutate(b, ms));

/** Text-level damage: truncation, an inserted, deleted or replaced character, in valid or mutated JSON. */
const damagedText = fc
  .tuple(
    fc.oneof(fc.constantFrom<Json>(FULL, MINIMAL, FIT).map((c) => JSON.stringify(c, null, 2)), mutatedConfig.map((c) => JSON.stringify(c))),
    fc.nat(),
    fc.constantFrom('truncate', 'insert', 'delete', 'replace'),
    fc.oneof(fc.constantFrom('"', ',', '}', ']', '[', '{', ':', '\\', '\n', '\r', '\u2028', '\uFEFF', '\0', '-', '.', 'e', '9'), fc.string({ unit: 'binary', minLength: 1, maxLength: 3 })),
    fc.boolean(),
  )
  .map(([text, at, how, ch, bom]) => {
    const i = at % (text.length + 1);
    const t = how === 'truncate' ? text.slice(0, i) : how === 'insert' ? text.slice(0, i) + ch + text.slice(i) : how === 'delete' ? text.slice(0, i) + text.slice(i + 1) : text.slice(0, i) + ch + text.slice(i + 1);
    return bom ? `\uFEFF${t}` : t;
  });

/**
 * Configs that are valid by construction but random in structure (block count and widths, input
 * and pool sizes up to the parser's limits, classifier widths): these reach planFromConfig, most of
 * the mutated ones above stop in the parser. Large sizes must end in the "too big" VggcError.
 */
const dim = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 1, max: 64 }) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 65536 }) });
const structuredConfig = fc
  .record({
    channels: fc.array(dim, { minLength: 2, maxLength: 7 }),
    layers: fc.array(fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 30 })), { minLength: 6, maxLength: 6 }),
    extra: fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 300 })),
    big: fc.boolean(),
    avgPool: fc.option(fc.tuple(dim, dim)),
    maxPool: fc.boolean(),
    classifier: fc.array(fc.oneof(dim, fc.record({ features: dim, relu: fc.boolean() })), { maxLength: 3 }),
    numClasses: dim,
    batchNorm: fc.boolean(),
    finalActivation: fc.constantFrom('none', 'softmax', 'sigmoid'),
    name: fc.option(fc.string({ unit: 'binary', minLength: 1, maxLength: 200 })),
  })
  .map(({ channels, layers, extra, big, avgPool, maxPool, classifier, numClasses, batchNorm, finalActivation, name }) => {
    const blocks = channels.slice(1).map((c, i) => [channels[i], layers[i], c]);
    const min = 2 ** blocks.length;
    return {
      ...(name === null ? {} : { name }),
      blocks,
      inputSize: big ? [min * (1 + extra[0]), Math.min(65536, min * (1 + extra[1]))] : [min + extra[0], min + extra[1]],
      batchNorm,
      // The generated pool size as an adaptive average or an adaptive max pool.
      ...(maxPool ? { avgPool: null, maxPool: avgPool } : { avgPool }),
      classifier,
      numClasses,
      finalActivation,
    };
  });

/** Asserts the parser's contract for one input text; returns the config when it was accepted. */
function checkOne(text: string): void {
  let config: VggConfig;
  try {
    config = parseConfig(text, FILE);
  } catch (e) {
    expectOneLineVggcError(e);
    return;
  }
  expectValid(config);
  try {
    planFromConfig(config, FILE);
  } catch (e) {
    expectOneLineVggcError(e);
    expect((e as Error).message).toMatch(/wasm memory/);
  }
}

function expectOneLineVggcError(e: unknown): void {
  if (!(e instanceof VggcError)) throw new Error(`expected a VggcError, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.stack ?? String(e)}`);
  const msg = e.message;
  if (/[\r\n]/.test(msg)) throw new Error(`VggcError message is not one line: ${JSON.stringify(msg)}`);
  if (!msg.startsWith(`${FILE}: `)) throw new Error(`VggcError message does not start with the file name: ${JSON.stringify(msg)}`);
}

const posInt = (v: unknown): boolean => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65536;

/** What "a valid config" means: the invariants later stages rely on. */
function expectValid(c: VggConfig): void {
  const fail = (why: string): never => {
    throw new Error(`parseConfig accepted an invalid config (${why}): ${JSON.stringify(c)}`);
  };
  if (typeof c.name !== 'string' || c.name.length === 0 || c.name.length > 200) fail('name');
  if (!Array.isArray(c.blocks) || c.blocks.length === 0) fail('blocks');
  c.blocks.forEach((b, i) => {
    if (b.length !== 3 || !b.every(posInt)) fail(`blocks[${i}]`);
    if (i > 0 && b[0] !== c.blocks[i - 1][2]) fail('chaining');
  });
  if (c.inputSize.length !== 2 || !c.inputSize.every(posInt) || Math.min(...c.inputSize) < 2 ** c.blocks.length) fail('inputSize');
  if (typeof c.batchNorm !== 'boolean') fail('batchNorm');
  if (!(c.batchNormEps > 0 && c.batchNormEps < 1)) fail('batchNormEps');
  if (c.avgPool !== null && (c.avgPool.length !== 2 || !c.avgPool.every(posInt))) fail('avgPool');
  if (c.maxPool !== null && (c.maxPool.length !== 2 || !c.maxPool.every(posInt))) fail('maxPool');
  if (c.avgPool !== null && c.maxPool !== null) fail('two head pools');
  if (!Array.isArray(c.classifier) || !c.classifier.every((l) => posInt(l.features) && typeof l.relu === 'boolean')) fail('classifier');
  if (!posInt(c.numClasses)) fail('numClasses');
  if (!['none', 'softmax', 'sigmoid'].includes(c.finalActivation)) fail('finalActivation');
  if (c.labels !== null && (c.labels.length !== c.numClasses || !c.labels.every((l) => typeof l === 'string' && l.length > 0 && l.length <= 200))) fail('labels');
  const p = c.preprocessing;
  if (p !== null) {
    const ch = c.blocks[0][0];
    if (p.mean.length !== ch || p.std.length !== ch || !p.mean.every(Number.isFinite) || !p.std.every((s) => Number.isFinite(s) && s > 0)) fail('mean/std');
    if (p.channelOrder !== 'rgb' && !(p.channelOrder === 'bgr' && ch === 3)) fail('channelOrder');
    if (p.pixelRange[0] !== 0 || (p.pixelRange[1] !== 1 && p.pixelRange[1] !== 255)) fail('pixelRange');
    if ('shorterSide' in p.resize) {
      if (!posInt(p.resize.shorterSide) || p.resize.shorterSide < Math.min(...c.inputSize)) fail('shorterSide');
    } else if (!('fit' in p.resize) || p.resize.fit.length !== 2 || !p.resize.fit.every(posInt) || p.resize.fit[0] > c.inputSize[0] || p.resize.fit[1] > c.inputSize[1]) fail('fit');
  }
}

describe('fuzz: parseConfig + planFromConfig', () => {
  it('the seeds themselves are accepted (so the mutations start from valid configs)', () => {
    for (const c of [FULL, MINIMAL, FIT]) expectValid(parseConfig(JSON.stringify(c), FILE));
  });

  it(`arbitrary JSON values (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), fc.dictionary(fc.constantFrom(...Object.keys(FULL)), replacement)), (v) => checkOne(JSON.stringify(v) ?? 'null')),
      { numRuns: RUNS, seed: 0x5eed01 },
    );
  }, 60_000);

  it(`valid configs with fields deleted, replaced, retyped, renamed (${RUNS} cases)`, () => {
    fc.assert(fc.property(mutatedConfig, (v) => checkOne(JSON.stringify(v))), { numRuns: RUNS, seed: 0x5eed02 });
  }, 60_000);

  it(`structurally valid configs of random shape and size, through the memory plan (${RUNS} cases)`, () => {
    fc.assert(fc.property(structuredConfig, (c) => checkOne(JSON.stringify(c))), { numRuns: RUNS, seed: 0x5eed05 });
  }, 60_000);

  it(`config texts truncated or with a character inserted, deleted or replaced (${RUNS} cases)`, () => {
    fc.assert(fc.property(damagedText, (t) => checkOne(t)), { numRuns: RUNS, seed: 0x5eed03 });
  }, 60_000);

  it(`arbitrary strings (${RUNS} cases)`, () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (t) => checkOne(t)), { numRuns: RUNS, seed: 0x5eed04 });
  }, 60_000);
});

describe('regressions found by the fuzzer', () => {
  it('an unknown field whose name contains a carriage return gives a one-line message', () => {
    try {
      parseConfig('{"blocks": [[3, 1, 8]], "a\\rb": 1}', FILE);
      throw new Error('accepted');
    } catch (e) {
      expectOneLineVggcError(e);
      expect((e as Error).message).toMatch(/^fuzz\/dir\/net\.json: unknown field "a\\rb"/);
    }
  });

  it('a block of 65,536 conv layers is refused at once (the planner is not asked to plan it)', () => {
    const t = performance.now();
    try {
      planFromConfig(parseConfig('{"blocks": [[1, 65536, 4]], "inputSize": [8, 8], "avgPool": null, "classifier": [], "numClasses": 2}', FILE), FILE);
      throw new Error('accepted');
    } catch (e) {
      expectOneLineVggcError(e);
      expect((e as Error).message).toMatch(/num_conv_layers\) is 65536; vggc supports at most 64 per block/);
    }
    expect(performance.now() - t).toBeLessThan(2000);
  });

  it('an unknown field whose name contains a newline gives a one-line message', () => {
    try {
      parseConfig('{"blocks": [[3, 1, 8]], "a\\nb": 1}', FILE);
      throw new Error('accepted');
    } catch (e) {
      expectOneLineVggcError(e);
    }
  });
});
