/**
 * Stage 7a: AssemblyScript source → wasm bytes, compiled in-process with the AssemblyScript compiler
 * API. Files live in memory: the generated model and the hand-written helpers from assembly/.
 */
import { readFileSync } from 'node:fs';
import { packageRoot } from '../paths.js';
import { HELPERS_MODULE } from '../codegen/module.js';

export interface AscResult {
  readonly wasm: Uint8Array;
  readonly text?: string;
}

/**
 * Flags: SIMD on; memory imported (the runtime sizes it for arena + weights); the stub runtime
 * (nothing is allocated); no abort import and no assertions (kernels do no bounds checks by design:
 * every address is fixed at compile time).
 */
const ASC_FLAGS = ['-O3', '--runtime', 'stub', '--use', 'abort=', '--noAssert', '--enable', 'simd,threads', '--importMemory', '--noExportMemory', '--sharedMemory'];

/**
 * `memoryPages`: the imported memory is shared (worker threads run layers on it), and a shared memory
 * must declare its maximum: the model's exact size, which it never grows beyond.
 */
export async function compileAssemblyScript(source: string, opts: { memoryPages: number; relaxed?: boolean; wat?: boolean }): Promise<AscResult> {
  const asc = await import('assemblyscript/asc');
  const assembly = (name: string): string => readFileSync(`${packageRoot()}/assembly/${name}.ts`, 'utf8');
  // The generated model imports './vggc'; the relaxed build gets the relaxed helpers under that name.
  const files = new Map<string, string>([
    ['model.ts', source],
    [`${HELPERS_MODULE}.ts`, assembly(opts.relaxed ? `${HELPERS_MODULE}-relaxed` : HELPERS_MODULE)],
    [`${HELPERS_MODULE}-common.ts`, assembly(`${HELPERS_MODULE}-common`)],
  ]);
  const outputs = new Map<string, Uint8Array | string>();
  let stderr = '';
  const argv = ['model.ts', '--outFile', 'model.wasm', ...(opts.wat ? ['--textFile', 'model.wat'] : []), ...ASC_FLAGS, ...(opts.relaxed ? ['--enable', 'relaxed-simd'] : []), '--initialMemory', String(opts.memoryPages), '--maximumMemory', String(opts.memoryPages)];
  const result = await asc.main(argv, {
    readFile: (name: string) => files.get(name.replace(/^\.\//, '')) ?? null,
    writeFile: (name: string, contents: Uint8Array | string) => void outputs.set(name, contents),
    listFiles: () => [],
    stdout: { write: () => true } as never,
    stderr: { write: (s: string | Uint8Array) => ((stderr += String(s)), true) } as never,
  });
  const wasm = outputs.get('model.wasm');
  if (result.error || !(wasm instanceof Uint8Array)) {
    // The generated source is vggc's own: a failure here is a compiler bug, not a user error.
    throw new Error(`AssemblyScript compilation of the generated model failed: ${result.error?.message ?? 'no output'}\n${stderr}`);
  }
  const text = outputs.get('model.wat');
  return { wasm, text: typeof text === 'string' ? text : undefined };
}
