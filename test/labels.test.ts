/**
 * Class names in the manifest: a 1000-class model gets torchvision's ImageNet names (so an exported
 * pretrained VGG predicts named classes), `--labels FILE` (JSON list or one name per line) overrides
 * the config, and a file with the wrong count is a one-line error.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileModel } from '../compiler/pipeline.js';
import { loadModel } from '../runtime/index.js';
import { errorOf, tempDir } from './helpers.js';
import { readLabelsFile } from '../compiler/labels/labels.js';

const work = tempDir();
const tiny = (numClasses: number): string => {
  const path = join(work, `tiny-${numClasses}.json`);
  writeFileSync(path, JSON.stringify({ blocks: [[3, 1, 8]], inputSize: [4, 4], avgPool: null, classifier: [], numClasses }));
  return path;
};

describe('class names', () => {
  it('a 1000-class model gets the ImageNet names in torchvision order', async () => {
    const out = join(work, 'imagenet');
    await compileModel({ configPath: tiny(1000), outDir: out });
    const model = await loadModel(out, { threads: 1 });
    expect(model.manifest.labels).toHaveLength(1000);
    expect(model.manifest.labels?.slice(0, 3)).toEqual(['tench', 'goldfish', 'great white shark']);
    expect(model.manifest.labels?.[999]).toBe('toilet tissue');
    model.dispose();
  });

  it('--labels overrides, as a JSON list or one name per line; other class counts get none by default', async () => {
    const lines = join(work, 'names.txt');
    writeFileSync(lines, 'cat\ndog\r\n\nbird\n');
    const out = join(work, 'named');
    await compileModel({ configPath: tiny(3), outDir: out, labelsPath: lines });
    const model = await loadModel(out, { threads: 1 });
    expect(model.manifest.labels).toEqual(['cat', 'dog', 'bird']);
    model.dispose();
    const json = join(work, 'names.json');
    writeFileSync(json, '["a", "b", "c"]');
    expect(readLabelsFile(json, 3)).toEqual(['a', 'b', 'c']);
    const plain = join(work, 'plain');
    await compileModel({ configPath: tiny(3), outDir: plain });
    const unnamed = await loadModel(plain, { threads: 1 });
    expect(unnamed.manifest.labels).toBeNull();
    unnamed.dispose();
  });

  it('a labels file with the wrong count is a one-line error naming it', () => {
    const bad = join(work, 'two.txt');
    writeFileSync(bad, 'a\nb\n');
    expect(errorOf(() => readLabelsFile(bad, 3))).toBe(`${bad}: labels has 2 names but the model has 3 classes`);
  });
});
