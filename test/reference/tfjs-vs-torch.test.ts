/**
 * Cross-checks the two references: for every golden under test/golden (made by PyTorch with
 * tools/torch_reference.py), the TensorFlow.js forward pass must reproduce PyTorch's logits.
 * Also checks that the compiler's layer graph names and shapes the same parameters PyTorch wrote.
 */
import { readdirSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../compiler/frontend/config/parse.js';
import { buildGraph } from '../../compiler/graph/graph.js';
import { readNpy } from '../../runtime/npy.js';
import { readSafetensors } from './safetensors.js';
import { notebookKeyMap, tfjsForward } from './tfjs-vgg.js';
import { expectParity, GOLDEN } from '../helpers.js';

const goldens = readdirSync(GOLDEN).filter((d) => existsSync(join(GOLDEN, d, 'config.json')));

describe.each(goldens)('golden %s', (name) => {
  const dir = join(GOLDEN, name);
  const config = parseConfig(readFileSync(join(dir, 'config.json'), 'utf8'), join(dir, 'config.json'));
  const { tensors, metadata } = readSafetensors(join(dir, 'weights.safetensors'));
  // Notebook-layout files are renamed to torchvision keys, the only ones tfjsForward knows.
  const rename = metadata.layout === 'notebook' ? notebookKeyMap(config) : undefined;
  const weights = new Map([...tensors].map(([k, t]) => [rename ? (rename.get(k) ?? k) : k, t.data]));

  it('matches the compiler graph: same keys and shapes as PyTorch', () => {
    const graph = buildGraph(config);
    const keyOf = (p: (typeof graph.params)[number]) => (metadata.layout === 'notebook' ? p.notebookKey : p.key);
    const ignored = new Set(graph.ignoredKeys);
    expect(new Set(graph.params.map(keyOf))).toEqual(new Set([...tensors.keys()].filter((k) => !ignored.has(k))));
    for (const p of graph.params) expect(tensors.get(keyOf(p))?.shape, keyOf(p)).toEqual(p.shape);
  });

  it('tfjsForward reproduces the PyTorch logits', async () => {
    const input = readNpy(join(dir, 'input.npy'));
    const expected = readNpy(join(dir, 'logits.npy'));
    const n = input.shape[0];
    expect(expected.shape).toEqual([n, config.numClasses]);
    const actual = await tfjsForward(config, weights, input.data, n);
    expect(actual.length).toBe(expected.data.length);
    expect(Math.max(...expected.data.map(Math.abs))).toBeGreaterThan(0);
    expectParity(actual, expected.data, config.numClasses);
  });
});
