/**
 * The wasm memory map (program.ts, MemoryMap): arena, then the weights payload at the next page,
 * then the tensors computed at load; and the one check that it fits in WebAssembly's 4 GiB.
 */
import { VggcError } from '../errors.js';
import { WASM_MAX_BYTES } from '../frontend/config/config.js';
import { roundUp } from '../weights/layout.js';
import { ARENA_BASE } from './activations.js';

export const WASM_PAGE_BYTES = 64 * 1024;

/** Where the weights payload starts: the first page after the arena. */
export const weightsBaseAfter = (arenaBytes: number): number => roundUp(ARENA_BASE + arenaBytes, WASM_PAGE_BYTES);

export interface MemorySizes {
  readonly arenaBytes: number;
  readonly payloadBytes: number;
  readonly preparedBase: number;
  readonly preparedBytes: number;
}

/** Bytes of wasm memory the model needs (everything up to the end of the prepared tensors). */
export const totalBytes = (m: MemorySizes): number => m.preparedBase + m.preparedBytes;

export const fits = (m: MemorySizes): boolean => totalBytes(m) <= WASM_MAX_BYTES;

/** The model's memory in whole pages; a one-line error naming `label` when it exceeds 4 GiB. */
export function memoryPages(m: MemorySizes, label: string): number {
  const total = totalBytes(m);
  if (!fits(m)) {
    const prepared = m.preparedBytes ? ` + filters transformed at load ${gib(m.preparedBytes)} GiB` : '';
    throw new VggcError(`${label}: the model needs ${gib(total)} GiB of wasm memory (weights ${gib(m.payloadBytes)} GiB${prepared} + activations ${gib(m.arenaBytes)} GiB) but WebAssembly allows at most 4 GiB`);
  }
  return Math.ceil(total / WASM_PAGE_BYTES);
}

const gib = (b: number): string => (b / 2 ** 30).toFixed(2);
