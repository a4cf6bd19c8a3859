/**
 * Runs test/pytorch/write_checkpoints.py with Debian's torch (no skip: a missing torch fails the
 * test file) and describes what it wrote. Called at collection time so the cases can be listed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PYTHON = '/usr/bin/python3';
const HERE = new URL('.', import.meta.url).pathname;

export interface ExpectedTensor {
  key: string;
  shape: number[];
  dtype: string;
  /** Index into the values file (float tensors only). */
  offset?: number;
  count?: number;
}

export interface ExpectedNetwork {
  blocks: [number, number, number][];
  batchNorm: boolean[];
  linears: [number, number, boolean][];
  headPool: [number, number] | null;
  inputSize: [number, number] | null;
}

export interface Case {
  file: string;
  format: 'zip' | 'legacy';
  tensors?: ExpectedTensor[];
  values?: string;
  network?: ExpectedNetwork;
  forward?: { input: string; inputShape: [number, number, number, number]; logits: string; numClasses: number };
  error?: string;
  deriveError?: string;
}

export interface Fixtures {
  dir: string;
  marker: string;
  cases: Record<string, Case>;
}

/** Writes every checkpoint into a fresh temp folder (the caller removes it). */
export function writeCheckpoints(script = 'write_checkpoints.py', prefix = 'vggc-pth-'): Fixtures {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const marker = join(dir, 'MARKER');
  const r = spawnSync(PYTHON, [join(HERE, script), dir, marker], { encoding: 'utf8', timeout: 240_000 });
  if (r.status !== 0) {
    throw new Error(`${PYTHON} ${script} failed (Debian's python3-torch 1.13 and python3-torchvision are required): ${r.error?.message ?? ''}\n${r.stderr}`);
  }
  return { dir, marker, cases: JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Record<string, Case> };
}

/** A float32 file as written by numpy's tofile. */
export function readF32(path: string): Float32Array {
  const b = readFileSync(path);
  const out = new Float32Array(b.length / 4);
  new Uint8Array(out.buffer).set(b);
  return out;
}
