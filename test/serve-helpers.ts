/**
 * Shared by the serve tests: the Fashion-MNIST example compiled once per file, its 50 samples with
 * `vggc run`'s logits for each image alone, a `vggc serve` child process, and OIP request builders.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { compileModel } from '../compiler/pipeline.js';
import { readNpy, writeNpy } from '../runtime/npy.js';
import { ROOT } from './helpers.js';

export const CLI = join(ROOT, 'dist/compiler/cli.js');
export const FASHION = join(ROOT, 'examples/fashion-mnist');
export const FASHION_NAME = 'fashion-mnist-vgg';
export const IMAGE_FLOATS = 32 * 32;

export async function compileFashion(into: string): Promise<string> {
  const outDir = join(into, 'fashion-mnist');
  await compileModel({ configPath: join(FASHION, 'fashion-mnist.json'), weightsPath: join(FASHION, 'weights.safetensors'), outDir });
  return outDir;
}

export interface Samples {
  readonly images: Float32Array[];
  /** `vggc run` on each image alone (a 1×1×32×32 .npy), deterministic build: the bits every answer must have. */
  readonly logits: Float32Array[];
}

/** Runs `vggc run` once per sample image, a few processes at a time (each is mostly CLI start-up). */
export async function fashionSamples(modelDir: string, tmp: string, parallel = 3): Promise<Samples> {
  const all = readNpy(join(FASHION, 'samples-input.npy'));
  const count = all.shape[0];
  const images = Array.from({ length: count }, (_, i) => all.data.slice(i * IMAGE_FLOATS, (i + 1) * IMAGE_FLOATS));
  const logits = new Array<Float32Array>(count);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      const input = join(tmp, `sample-${i}.npy`);
      const output = join(tmp, `sample-${i}-logits.npy`);
      writeNpy(input, [1, 1, 32, 32], images[i]);
      const { code, stderr } = await run([CLI, 'run', modelDir, '--input', input, '--output', output]);
      expect(code, stderr).toBe(0);
      logits[i] = readNpy(output).data;
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  return { images, logits };
}

export function run(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, args, { stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Bitwise: the same 32-bit patterns, not just close values. */
export function expectSameBits(got: Float32Array, want: Float32Array): void {
  expect(got.length).toBe(want.length);
  expect(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength))).toBe(true);
}

export function sameBits(got: Float32Array, want: Float32Array): boolean {
  return got.length === want.length && Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength));
}

export function jsonRequest(images: readonly Float32Array[], extra: Record<string, unknown> = {}): string {
  const data = images.flatMap((im) => Array.from(im));
  return JSON.stringify({ ...extra, inputs: [{ name: 'input', shape: [images.length, 1, 32, 32], datatype: 'FP32', data }] });
}

/** Binary tensor extension: JSON header, then the images' bytes; `binaryOut` asks for binary logits. */
export function binaryRequest(images: readonly Float32Array[], binaryOut: boolean): { body: Buffer; headers: Record<string, string> } {
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ name: 'input', shape: [images.length, 1, 32, 32], datatype: 'FP32', parameters: { binary_data_size: images.length * IMAGE_FLOATS * 4 } }],
      outputs: [{ name: 'logits', parameters: { binary_data: binaryOut } }],
    }),
  );
  const bytes = images.map((im) => Buffer.from(im.buffer, im.byteOffset, im.byteLength));
  return { body: Buffer.concat([header, ...bytes]), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) } };
}

/** A response body → each output's floats, whether it came as JSON or binary. */
export function decodeResponse(body: Buffer, headerLength: string | null | undefined): { json: Record<string, unknown>; outputs: Record<string, { shape: number[]; data: Float32Array }> } {
  const jsonBytes = headerLength ? Number(headerLength) : body.length;
  const json = JSON.parse(body.subarray(0, jsonBytes).toString('utf8')) as Record<string, unknown>;
  const outputs: Record<string, { shape: number[]; data: Float32Array }> = {};
  let at = jsonBytes;
  for (const o of (json.outputs ?? []) as { name: string; shape: number[]; data?: number[]; parameters?: { binary_data_size?: number } }[]) {
    const size = o.parameters?.binary_data_size;
    if (size !== undefined) {
      const copy = new Uint8Array(body.subarray(at, at + size));
      outputs[o.name] = { shape: o.shape, data: new Float32Array(copy.buffer) };
      at += size;
    } else outputs[o.name] = { shape: o.shape, data: Float32Array.from(o.data ?? []) };
  }
  expect(at).toBe(body.length);
  return { json, outputs };
}

/** A body for fetch (its types take no Node Buffer). */
export function asBody(b: string | Buffer): string | Uint8Array<ArrayBuffer> {
  return typeof b === 'string' ? b : (new Uint8Array(b.buffer, b.byteOffset, b.byteLength) as Uint8Array<ArrayBuffer>);
}

export interface ServeProcess {
  readonly url: string;
  readonly proc: ChildProcessWithoutNullStreams;
  /** Everything written to stderr so far. */
  stderr(): string;
  readonly exited: Promise<number | null>;
}

/** Starts `vggc serve` on a free port and resolves once it printed its one `listening on` line. */
export function startServe(args: readonly string[]): Promise<ServeProcess> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  const proc = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], { stdio: 'pipe' });
  let out = '';
  let err = '';
  // A failed or timed-out test must not leave its server running after the test process ends.
  const reap = (): void => void proc.kill('SIGKILL');
  process.once('exit', reap);
  const exited = new Promise<number | null>((resolve) =>
    proc.once('exit', (code) => {
      process.off('exit', reap);
      resolve(code);
    }),
  );
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^listening on (http:\/\/\S+)\n/.exec(out);
      if (m) resolve({ url: m[1], proc, stderr: () => err, exited });
    });
    void exited.then((code) => reject(new Error(`vggc serve exited (${code}) before listening: ${err}`)));
  });
}

/** One value of a Prometheus series from /metrics, e.g. metric(text, 'vggc_queue_depth{model="x"}'). */
export function metric(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : NaN;
}

export async function stopServe(s: ServeProcess): Promise<number | null> {
  if (s.proc.exitCode === null) s.proc.kill('SIGTERM');
  return s.exited;
}
