/** Small helpers for writing readable generated AssemblyScript. */

/** Indents every line of a block by `n` levels of two spaces. */
export function indent(lines: readonly string[], n = 1): string[] {
  const pad = '  '.repeat(n);
  return lines.map((l) => (l.length ? pad + l : l));
}

/** 1234567 → "1,234,567" for comments. */
export function grouped(n: number): string {
  return n.toLocaleString('en-US');
}

/**
 * Makes user-supplied text (model names) safe inside a `//` comment: one line, printable ASCII,
 * no way to end the comment or start code.
 */
export function commentSafe(text: string, max = 80): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?').replace(/\*\//g, '*?');
  return clean.length > max ? `${clean.slice(0, max - 3)}...` : clean;
}

/** Module-level constant declaration: `const NAME: usize = 123; // why`. */
export function constant(name: string, value: number, why: string, type = 'usize'): string {
  if (!Number.isSafeInteger(value) || value < 0 || value > 0xffffffff) throw new Error(`codegen: constant ${name} = ${value} is not a u32`);
  return `const ${name}: ${type} = ${value}; // ${why}`;
}

/** Header comment for one layer function. */
export function layerHeader(title: string, facts: readonly string[]): string[] {
  return ['', `// ${'─'.repeat(96)}`, `// ${title}`, ...facts.map((f) => `//   ${f}`)];
}

/** [0, 1, …, n − 1]: the generator's loop over unrolled copies and register-tile rows. */
export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Prefix of one step's generated constants and helpers: `L03` for layer 3 (`P03` for its prepare function). */
export const stepPrefix = (index: number, letter: 'L' | 'P' = 'L'): string => `${letter}${String(index).padStart(2, '0')}`;
