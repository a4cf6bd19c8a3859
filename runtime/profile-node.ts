/**
 * Per-layer timing of a compiled model (`vggc bench DIR`, and the benchmark's breakdown): each layer
 * function is timed on its own, in network order, so every step reads what its predecessor wrote.
 * GFLOP/s counts a direct 3×3 convolution's 2·MACs, so for Winograd steps (fewer multiplies) it is an
 * effective rate that can exceed the micro-kernel ceiling.
 */
import { loadInstance, type LoadOptions } from './load/node.js';
import { stepRunners } from './steps.js';
import { WorkerPool } from './threads/node-pool.js';
import { resolveThreads } from './threads/policy.js';

export interface LayerTiming {
  readonly step: number;
  readonly function: string;
  readonly kernel: string;
  readonly description: string;
  readonly workItems: number;
  readonly macs: number;
  /** Median over the timed runs. */
  readonly ms: number;
  readonly gflops: number | null;
}

export interface LayerProfile {
  readonly rows: readonly LayerTiming[];
  readonly threads: number;
  readonly build: 'deterministic' | 'relaxed';
}

/** The median of a non-empty list (the mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

export async function profileLayers(dir: string, opts: LoadOptions & { runs?: number; warmup?: number } = {}): Promise<LayerProfile> {
  const { runs = 7, warmup = 2 } = opts;
  const inst = await loadInstance(dir, opts);
  const threads = resolveThreads(opts.threads, 1, inst.manifest, dir);
  const pool = threads > 1 ? await WorkerPool.start(inst.module, inst.memory, inst.steps.map((s) => s.info.function), threads) : null;
  try {
    const [c, h, w] = inst.manifest.input.shape;
    const inputView = new Float32Array(inst.memory.buffer, inst.manifest.input.offset, c * h * w);
    const image = Float32Array.from(inputView, (_, i) => Math.sin(i * 0.01)); // any finite, non-trivial image
    const runners = stepRunners(inst, pool ?? undefined);
    const run = async (i: number): Promise<void> => {
      const waiting = runners[i]();
      if (waiting) await waiting;
    };
    // Every run starts from the image, as infer() does: the planner reuses the input's memory once read.
    for (let r = 0; r < warmup; r++) {
      inputView.set(image);
      for (let i = 0; i < inst.steps.length; i++) await run(i);
    }
    const times = inst.steps.map(() => [] as number[]);
    for (let r = 0; r < runs; r++) {
      inputView.set(image);
      for (let i = 0; i < inst.steps.length; i++) {
        const t0 = performance.now();
        await run(i);
        times[i].push(performance.now() - t0);
      }
    }
    const rows = inst.steps.map((s, i) => {
      const ms = median(times[i]);
      return { step: i, function: s.info.function, kernel: s.info.kernel, description: s.info.description, workItems: s.workItems, macs: s.info.macs, ms, gflops: s.info.macs ? (2 * s.info.macs) / (ms * 1e6) : null };
    });
    return { rows, threads, build: inst.build };
  } finally {
    await pool?.terminate();
  }
}

/** Where the "of" column's single-thread ceiling comes from. */
export interface ProfileCeiling {
  readonly gflops: number;
  /** How the table names its source, e.g. "measured in this run". */
  readonly source: string;
}

/**
 * The profile as a text table. The "of" column divides by `ceiling` times the threads: `vggc bench`
 * and the benchmark pass the single-thread ceiling they measured on this machine
 * (compiler/cli/ceiling.ts), or the one given with `vggc bench --ceiling`.
 */
export function formatProfile(p: LayerProfile, ceiling: ProfileCeiling): string[] {
  const total = p.rows.reduce((a, r) => a + r.ms, 0);
  const macs = p.rows.reduce((a, r) => a + r.macs, 0);
  const desc = Math.max(11, ...p.rows.map((r) => r.description.length));
  const kern = Math.max(6, ...p.rows.map((r) => r.kernel.length));
  const threadsCeiling = ceiling.gflops * p.threads;
  const line = (a: string, b: string, c: string, ms: string, share: string, g: string, of: string): string =>
    `${a.padEnd(3)} ${b.padEnd(desc)} ${c.padEnd(kern)} ${ms.padStart(8)} ${share.padStart(6)} ${g.padStart(8)} ${of.padStart(7)}`;
  const out = [line('#', 'description', 'kernel', 'ms', 'share', 'GFLOP/s', `of ${Math.round(threadsCeiling)}`)];
  for (const r of p.rows) {
    out.push(line(String(r.step), r.description, r.kernel, r.ms.toFixed(2), `${((100 * r.ms) / total).toFixed(1)}%`, r.gflops === null ? '–' : r.gflops.toFixed(1), r.gflops === null ? '–' : `${((100 * r.gflops) / threadsCeiling).toFixed(0)}%`));
  }
  const g = (2 * macs) / (total * 1e6);
  out.push(line('', 'total (sum of steps)', '', total.toFixed(2), '100%', g.toFixed(1), `${((100 * g) / threadsCeiling).toFixed(0)}%`));
  out.push(`${p.threads} thread(s), ${p.build} build; medians. GFLOP/s counts a direct convolution's 2·MACs, so Winograd steps show an effective rate; the ceiling is ${ceiling.gflops} GFLOP/s per thread (${ceiling.source}).`);
  return out;
}
