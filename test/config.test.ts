// Config validation: defaults, torchvision parameter totals, and bad configs that must each fail with
// one exact, one-line VggcError naming the file and the field. Byte-level bad files are committed
// under test/fixtures/bad/config/ (small hand-written JSON); a few more are inline strings.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VggcError } from '../compiler/errors.js';
import { parseConfig, readConfigFile } from '../compiler/frontend/config/parse.js';
import { buildGraph, paramCount } from '../compiler/graph/graph.js';
import { planFromConfig } from '../compiler/pipeline.js';
import { ROOT, errorOf } from './helpers.js';

const BAD = join(ROOT, 'test/fixtures/bad/config');

/** Reads and validates a config file all the way to the memory plan, as `vggc compile` does. */
function check(path: string): void {
  planFromConfig(readConfigFile(path), path);
}

describe('defaults', () => {
  it('fills in every field but blocks with torchvision ImageNet VGG values', () => {
    const c = parseConfig('{"blocks": [[3, 1, 8], [8, 2, 16]]}', 'my-net.json');
    expect(c).toEqual({
      name: 'my-net',
      blocks: [
        [3, 1, 8],
        [8, 2, 16],
      ],
      inputSize: [224, 224],
      batchNorm: false,
      batchNormEps: 1e-5,
      avgPool: [7, 7],
      maxPool: null,
      classifier: [
        { features: 4096, relu: true },
        { features: 4096, relu: true },
      ],
      numClasses: 1000,
      finalActivation: 'none',
      outputs: null,
      outputLayout: 'nchw',
      labels: null,
      preprocessing: null,
    });
  });

  it('keeps explicit values, including avgPool null and an empty classifier', () => {
    const c = parseConfig(
      JSON.stringify({ name: 'x', blocks: [[1, 1, 4]], inputSize: [9, 7], avgPool: null, classifier: [], numClasses: 2, labels: ['a', 'b'] }),
    );
    expect(c.name).toBe('x');
    expect(c.inputSize).toEqual([9, 7]);
    expect(c.avgPool).toBeNull();
    expect(c.classifier).toEqual([]);
    expect(c.numClasses).toBe(2);
    expect(c.labels).toEqual(['a', 'b']);
  });

  it('the default name is the file name without .json', () => {
    expect(parseConfig('{"blocks": [[3, 1, 8]]}', 'some/dir/vgg-tiny.json').name).toBe('vgg-tiny');
  });
});

describe('parameter totals match torchvision', () => {
  const expected: [string, number][] = [
    ['vgg11', 132_863_336],
    ['vgg13', 133_047_848],
    ['vgg16', 138_357_544],
    ['vgg19', 143_667_240],
  ];
  it.each(expected)('%s has %i parameters', (name, params) => {
    const config = readConfigFile(join(ROOT, 'examples', `${name}.json`));
    expect(config.name).toBe(name);
    expect(paramCount(buildGraph(config))).toBe(params);
  });
});

describe('bad config files (fixtures)', () => {
  const cases: [file: string, message: string][] = [
    ['syntax-missing-comma.json', "invalid JSON at line 3, column 3: Expected ',' or '}' after property value"],
    ['syntax-trailing-comma-object.json', 'invalid JSON at line 4, column 1: Expected double-quoted property name'],
    ['empty.json', 'invalid JSON at line 1, column 1: Unexpected end of JSON input'],
    ['syntax-trailing-comma.json', 'invalid JSON at line 2, column 24: unexpected "]"'],
    ['not-object.json', 'expected a JSON object with a "blocks" field, found [[3,1,8],[8,1,16]]'],
    ['missing-blocks.json', 'blocks is required: a list of [in_channels, num_conv_layers, num_features]'],
    ['empty-blocks.json', 'blocks must be a non-empty list of [in_channels, num_conv_layers, num_features], found []'],
    ['block-not-triple.json', 'blocks[1] must be [in_channels, num_conv_layers, num_features], found [8,16]'],
    ['zero-channels.json', 'blocks[0][0] (in_channels) must be a positive integer, found 0'],
    ['negative-layers.json', 'blocks[1][1] (num_conv_layers) must be a positive integer, found -2'],
    ['fractional-features.json', 'blocks[0][2] (num_features) must be a positive integer, found 8.5'],
    ['huge-features.json', 'blocks[0][2] (num_features) is 1000000, larger than the supported maximum 65536'],
    ['string-number.json', 'blocks[0][1] (num_conv_layers) must be a positive integer, found "2"'],
    ['wrong-chaining.json', 'blocks[2][0] is 64 but blocks[1] outputs 128 features'],
    ['input-too-small.json', 'inputSize [28, 28] is too small: 5 blocks halve it 5 times, so it must be at least [32, 32]'],
    ['batchnorm-not-boolean.json', 'batchNorm must be true or false, found "yes"'],
    ['bad-avgpool.json', 'avgPool must be [height, width] or null, found [7]'],
    ['classifier-not-list.json', 'classifier must be a list of hidden layer widths such as [4096, 4096], found 4096'],
    ['unknown-field.json', 'unknown field "dropout" (known fields: name, blocks, inputSize, batchNorm, batchNormEps, avgPool, maxPool, classifier, numClasses, finalActivation, outputs, outputLayout, labels, preprocessing)'],
    ['labels-mismatch.json', 'labels has 2 names but the model has 3 classes'],
    ['preprocessing-mean-length.json', 'preprocessing.mean must list 3 number(s), one per input channel, found [0.5,0.5]'],
    ['preprocessing-std-zero.json', 'preprocessing.std[1] must be a positive number, found 0'],
    ['preprocessing-unknown-resize.json', 'preprocessing.resize must be {"shorterSide": N} or {"fit": [height, width]}, found {"stretch":[224,224]}'],
    ['too-big.json', 'the model needs 4.93 GiB of wasm memory (weights 4.91 GiB + activations 0.02 GiB) but WebAssembly allows at most 4 GiB'],
  ];
  it.each(cases)('%s', (file, message) => {
    const path = join(BAD, file);
    expect(errorOf(() => check(path))).toBe(`${path}: ${message}`);
  });

  it('the oversized network really exceeds 4 GiB by its own arithmetic', () => {
    // vgg16's features (14,714,688 params), then 512·7·7 = 25,088 → 50,000 → 1,000.
    const graph = buildGraph(parseConfig(readFileSync(join(BAD, 'too-big.json'), 'utf8')));
    const params = paramCount(graph);
    expect(params).toBe(14_714_688 + 25_088 * 50_000 + 50_000 + 50_000 * 1_000 + 1_000);
    const gib = (params * 4) / 2 ** 30;
    expect(gib).toBeGreaterThan(4);
    expect(gib.toFixed(2)).toBe('4.91');
    // One fewer zero fits: the limit is not hit by accident.
    expect(() => planFromConfig(parseConfig(JSON.stringify({ ...graph.config, classifier: [5000] })), 'ok.json')).not.toThrow();
  });

  it('a missing file names the file and the errno code', () => {
    const path = join(BAD, 'does-not-exist.json');
    expect(errorOf(() => readConfigFile(path))).toBe(`${path}: cannot read the config file (ENOENT)`);
  });

  it('a UTF-8 byte-order mark before valid JSON is accepted', () => {
    expect(readConfigFile(join(BAD, 'utf8-bom.json')).blocks).toEqual([[3, 1, 8]]);
  });
});

describe('bad configs (inline)', () => {
  const blocks = [[3, 1, 8]];
  const cases: [what: string, config: unknown, message: string][] = [
    ['top-level number', 42, 'expected a JSON object with a "blocks" field, found 42'],
    ['top-level null', null, 'expected a JSON object with a "blocks" field, found null'],
    ['blocks is an object', { blocks: {} }, 'blocks must be a non-empty list of [in_channels, num_conv_layers, num_features], found {}'],
    ['block is a number', { blocks: [3] }, 'blocks[0] must be [in_channels, num_conv_layers, num_features], found 3'],
    ['negative block value', { blocks: [[3, -1, 8]] }, 'blocks[0][1] (num_conv_layers) must be a positive integer, found -1'],
    ['huge inputSize', { blocks, inputSize: [224, 1e9] }, 'inputSize[1] is 1000000000, larger than the supported maximum 65536'],
    ['zero in avgPool', { blocks, avgPool: [0, 7] }, 'avgPool[0] must be a positive integer, found 0'],
    ['avgPool a string', { blocks, avgPool: '7' }, 'avgPool must be [height, width] or null, found "7"'],
    ['zero classifier width', { blocks, classifier: [4096, 0] }, 'classifier[1] must be a positive integer, found 0'],
    ['fractional numClasses', { blocks, numClasses: 1.5 }, 'numClasses must be a positive integer, found 1.5'],
    ['batchNorm a string', { blocks, batchNorm: 'yes' }, 'batchNorm must be true or false, found "yes"'],
    ['empty name', { blocks, name: '' }, 'name must be a non-empty string of at most 200 characters, found ""'],
    ['empty label', { blocks, numClasses: 2, labels: ['a', ''] }, 'labels[1] must be a non-empty string of at most 200 characters, found ""'],
    [
      'shorterSide below the input',
      { blocks, preprocessing: { resize: { shorterSide: 100 }, mean: [0, 0, 0], std: [1, 1, 1] } },
      'preprocessing.resize.shorterSide is 100, smaller than the input it must be cropped to (224×224)',
    ],
    [
      'unknown preprocessing field',
      { blocks, preprocessing: { resize: { shorterSide: 256 }, mean: [0, 0, 0], std: [1, 1, 1], scale: 255 } },
      'unknown field "preprocessing.scale" (known: resize, mean, std, channelOrder, pixelRange)',
    ],
  ];
  it.each(cases)('%s', (_what, config, message) => {
    expect(errorOf(() => parseConfig(JSON.stringify(config), 'cfg.json'))).toBe(`cfg.json: ${message}`);
  });

  it('a long offending value is shortened, keeping the message one line', () => {
    const msg = errorOf(() => parseConfig(JSON.stringify({ blocks: [[3, 1, 8]], classifier: 'x'.repeat(500) }), 'cfg.json'));
    expect(msg.length).toBeLessThan(200);
    expect(msg).toMatch(/^cfg\.json: classifier must be a list of hidden layer widths such as \[4096, 4096\], found "x+\.\.\.$/);
  });

  it('a syntax error on a later line gives that line and column', () => {
    const text = '{\n  "blocks": [[3, 1, 8]],\n  "numClasses" 3\n}';
    expect(errorOf(() => parseConfig(text, 'cfg.json'))).toBe("cfg.json: invalid JSON at line 3, column 16: Unexpected number");
  });
});

describe('memory-driven algorithm choice', () => {
  it('falls back to direct convolution when Winograd filters would not fit in 4 GiB', () => {
    // 121 convolutions of 512→512: 1.06 GiB of direct filters, 4.25 GiB as Winograd F(4×4) filters
    // (computed at load from the 3×3 ones, which stay in memory too: 5.3 GiB with Winograd).
    const config = parseConfig(JSON.stringify({ blocks: [[3, 1, 512], [512, 60, 512], [512, 60, 512]], inputSize: [8, 8], avgPool: null, classifier: [], numClasses: 2 }));
    const plan = planFromConfig(config, 'deep.json');
    const convs = plan.steps.flatMap((s) => (s.kind === 'conv-direct' ? ['direct'] : s.kind === 'conv-winograd' ? ['winograd-f4x4'] : []));
    expect(new Set(convs)).toEqual(new Set(['direct']));
    expect(() => planFromConfig(config, 'deep.json', { conv: 'winograd' })).toThrow(/deep\.json: the model needs 5\.\d\d GiB of wasm memory/);
  });
});
