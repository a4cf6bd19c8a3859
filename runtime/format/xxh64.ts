/**
 * XXH64 (seed 0) of weight shards: what every loader checks (model.json `weights.shards[i].xxh64`,
 * 16 hex digits, the value xxhsum -H1 prints). The hot loop is the small wasm module of
 * format/xxh64.wat, instantiated on the memory that holds the bytes: the model's own memory in the
 * loaders (no copy), a scratch memory of its own for bytes elsewhere (the compiler, tests).
 * Plain code, no Node built-ins: Node, Deno, Bun, workerd, browsers and their workers.
 */
import { XXH64_WASM_HEX } from './xxh64-wasm.js';

/** Bytes per stripe: update() takes whole stripes, digest() the rest. */
const STRIPE = 32;
/** Pages of the scratch memory Xxh64 copies through (64 KiB each): 1 MiB, stays in cache. */
const SCRATCH_PAGES = 16;

interface Exports {
  xxh64_reset(seed: bigint): void;
  xxh64_update(ptr: number, len: number): void;
  xxh64_digest(ptr: number, len: number): bigint;
}

let compiled: WebAssembly.Module | null = null;
function xxh64Module(): WebAssembly.Module {
  if (!compiled) {
    const hex = XXH64_WASM_HEX;
    const bytes = new Uint8Array(hex.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
    compiled = new WebAssembly.Module(bytes);
  }
  return compiled;
}

function instantiate(memory: WebAssembly.Memory): Exports {
  return new WebAssembly.Instance(xxh64Module(), { env: { memory } }).exports as unknown as Exports;
}

/** 16 lower-case hex digits, as model.json records an XXH64. */
export const xxh64Hex = (h: bigint): string => BigInt.asUintN(64, h).toString(16).padStart(16, '0');

/**
 * Streaming XXH64 over bytes of one shared wasm memory, in order: `reset(start)`, then `add(end)`
 * each time the bytes up to `end` have arrived (ends never go down), `digest()` after the last.
 */
export class Xxh64OnMemory {
  private readonly x: Exports;
  private hashedTo = 0;
  private end = 0;

  constructor(memory: WebAssembly.Memory) {
    this.x = instantiate(memory);
    this.reset(0);
  }

  /** Starts a new hash at byte `start` of the memory. */
  reset(start: number): this {
    this.x.xxh64_reset(0n);
    this.hashedTo = this.end = start;
    return this;
  }

  /** Takes the bytes up to `end` (exclusive): every whole stripe now, the rest with the next piece. */
  add(end: number): void {
    if (end < this.end) throw new Error(`Xxh64OnMemory.add(${end}): before the bytes already added (up to ${this.end}); reset first`);
    this.end = end;
    const whole = (end - this.hashedTo) - ((end - this.hashedTo) % STRIPE);
    if (whole === 0) return;
    this.x.xxh64_update(this.hashedTo, whole);
    this.hashedTo += whole;
  }

  /** The hash of the bytes from reset's start to the last add's end, as 16 hex digits. */
  digest(): string {
    return xxh64Hex(this.x.xxh64_digest(this.hashedTo, this.end - this.hashedTo));
  }
}

/** Streaming XXH64 of bytes anywhere (copied through a 1 MiB scratch memory): the compiler's side. */
export class Xxh64 {
  private readonly memory = new WebAssembly.Memory({ initial: SCRATCH_PAGES, maximum: SCRATCH_PAGES, shared: true });
  private readonly scratch = new Uint8Array(this.memory.buffer);
  private readonly x = instantiate(this.memory);
  /** Bytes waiting at the start of scratch: always fewer than a stripe between calls. */
  private pending = 0;

  constructor() {
    this.x.xxh64_reset(0n);
  }

  update(bytes: Uint8Array): this {
    for (let at = 0; at < bytes.length; ) {
      const n = Math.min(bytes.length - at, this.scratch.length - this.pending);
      this.scratch.set(bytes.subarray(at, at + n), this.pending);
      at += n;
      const filled = this.pending + n;
      const whole = filled - (filled % STRIPE);
      this.x.xxh64_update(0, whole);
      this.scratch.copyWithin(0, whole, filled);
      this.pending = filled - whole;
    }
    return this;
  }

  digest(): string {
    return xxh64Hex(this.x.xxh64_digest(0, this.pending));
  }
}

/** XXH64 of bytes, as 16 hex digits. */
export const xxh64 = (bytes: Uint8Array): string => new Xxh64().update(bytes).digest();
