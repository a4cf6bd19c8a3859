// @ts-check
/**
 * `npm run test:runtimes`: the runtime conformance suite. Compiles the committed PyTorch goldens and
 * the Fashion-MNIST example once (here, with the built compiler), runs test/runtimes/conformance.mjs
 * under Node 20, 22, 24, 26, Deno and Bun (tools/runtimes/runtimes.mjs), then requires:
 *   - every check of every runtime passed (parity, errors, dispose: asserted in the script);
 *   - every deterministic logits digest equals Node 20's, bit for bit, and no runtime reported fewer;
 *   - one inference in workerd gives Node's bits (test/runtimes/workerd.mjs).
 * A runtime that is not installed fails the suite; nothing is skipped.
 *
 *   node test/runtimes/driver.mjs [--runtimes node20,deno,…] [--no-workerd]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { probe, ROOT, RUNTIMES, runtime } from '../../tools/runtimes/runtimes.mjs';
import { runWorkerdCheck } from './workerd.mjs';

const GOLDENS = ['small-rect', 'notebook', 'gray-odd', 'small-bn'];
const REFERENCE = 'node20';
const TIMEOUT_MS = 5 * 60_000;

const { values } = parseArgs({ options: { runtimes: { type: 'string' }, 'no-workerd': { type: 'boolean', default: false } } });
const selected = values.runtimes ? values.runtimes.split(',').map((n) => runtime(n.trim())) : RUNTIMES;
if (!selected.some((r) => r.name === REFERENCE)) selected.unshift(runtime(REFERENCE));

const started = Date.now();
const work = mkdtempSync(join(tmpdir(), 'vggc-runtimes-'));
let passed = 0;
let failed = 0;
const pass = (line) => {
  passed++;
  console.log(`  ✓ ${line}`);
};
const fail = (line) => {
  failed++;
  console.log(`  ✗ ${line}`);
};

try {
  // Compile once: every runtime must run the same files.
  const { compileModel } = await import(join(ROOT, 'dist/compiler/pipeline.js'));
  const goldens = [];
  for (const name of GOLDENS) {
    const golden = join(ROOT, 'test/golden', name);
    const dir = join(work, name);
    await compileModel({ configPath: join(golden, 'config.json'), weightsPath: join(golden, 'weights.safetensors'), outDir: dir });
    goldens.push({ name, dir, golden });
  }
  const ex = join(ROOT, 'examples/fashion-mnist');
  const fashionDir = join(work, 'fashion-mnist');
  await compileModel({ configPath: join(ex, 'fashion-mnist.json'), weightsPath: join(ex, 'weights.safetensors'), outDir: fashionDir });
  const job = { root: ROOT, work, goldens, fashion: { dir: fashionDir, input: join(ex, 'samples-input.npy'), reference: join(ex, 'samples-reference.json') } };
  const jobPath = join(work, 'job.json');
  writeFileSync(jobPath, JSON.stringify(job));
  console.log(`compiled ${GOLDENS.length} goldens and fashion-mnist in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

  /** @type {Map<string, { digests: Record<string, string>, facts: Record<string, unknown> }>} */
  const results = new Map();
  for (const rt of selected) {
    const p = probe(rt);
    if (!p.ok) {
      console.log(`${rt.label}: NOT AVAILABLE`);
      fail(p.reason);
      continue;
    }
    const resultPath = join(work, `result-${rt.name}.json`);
    const t0 = Date.now();
    const run = await runScript(rt.bin, [...rt.run, join(ROOT, 'test/runtimes/conformance.mjs'), jobPath, resultPath]);
    console.log(`${rt.label} (${p.version}), ${((Date.now() - t0) / 1000).toFixed(1)} s:`);
    let result;
    try {
      result = JSON.parse(readFileSync(resultPath, 'utf8'));
    } catch {
      fail(`${rt.name}: the conformance script wrote no result (exit ${run.code}): ${run.output.trim().split('\n').slice(-5).join(' | ')}`);
      continue;
    }
    for (const c of result.checks) (c.ok ? pass : fail)(`${rt.name}: ${c.name}${c.detail ? ` — ${c.detail}` : ''}`);
    if (run.code !== 0 && result.checks.every((c) => c.ok)) fail(`${rt.name}: exited with ${run.code}: ${run.output.trim().split('\n').slice(-3).join(' | ')}`);
    results.set(rt.name, result);
  }

  // Bit identity: every deterministic digest against Node 20's.
  console.log(`\ndeterministic logits against ${REFERENCE}'s (SHA-256 of the float32 bytes):`);
  const ref = results.get(REFERENCE);
  if (!ref) fail(`${REFERENCE} gave no results: nothing to compare with`);
  const deterministicKeys = ref ? Object.keys(ref.digests).filter((k) => !k.includes('/relaxed/')) : [];
  for (const [name, r] of results) {
    if (!ref || name === REFERENCE) continue;
    const differ = deterministicKeys.filter((k) => r.digests[k] !== ref.digests[k]);
    if (differ.length === 0) pass(`${name}: all ${deterministicKeys.length} deterministic digests equal ${REFERENCE}'s`);
    else fail(`${name}: ${differ.length} of ${deterministicKeys.length} deterministic digests differ from ${REFERENCE}'s (${differ.slice(0, 4).join(', ')}${differ.length > 4 ? ', …' : ''})`);
  }
  // For the report: does the relaxed build change the bits on this engine? (JSC does not fuse relaxed_madd.)
  for (const [name, r] of results) {
    const relaxed = Object.keys(r.digests).filter((k) => k.includes('/relaxed/'));
    if (!relaxed.length) console.log(`  · ${name}: no relaxed SIMD`);
    else {
      const same = relaxed.filter((k) => r.digests[k] === r.digests[k.replace('/relaxed/', '/deterministic/')]).length;
      console.log(`  · ${name}: relaxed build gives the deterministic bits on ${same} of ${relaxed.length} goldens`);
    }
  }

  if (!values['no-workerd']) {
    console.log('\nworkerd (Cloudflare Workers runtime), Fashion-MNIST bundled as a Worker, 1 thread:');
    const w = await runWorkerdCheck({ work, fashionDir, input: job.fashion.input });
    for (const c of w) (c.ok ? pass : fail)(`workerd: ${c.name}${c.detail ? ` — ${c.detail}` : ''}`);
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

console.log(`\nruntime conformance: ${((Date.now() - started) / 1000).toFixed(0)} s`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

/**
 * Runs a runtime on a script, with a timeout; stdout and stderr together.
 * @param {string} bin @param {string[]} args @returns {Promise<{ code: number | null, output: string }>}
 */
function runScript(bin, args) {
  return new Promise((resolve) => {
    const child = spawn(bin, args, { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const timer = setTimeout(() => {
      output += `\n(killed after ${TIMEOUT_MS / 1000} s)`;
      child.kill('SIGKILL');
    }, TIMEOUT_MS);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
