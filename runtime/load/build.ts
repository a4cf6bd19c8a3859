/** Feature detection for the relaxed-SIMD build, and the choice of build it drives. */
import { VggcError } from '../format/errors.js';
import type { Manifest } from '../format/manifest.js';

/** (func (param v128 v128 v128) (result v128) local.get 0 local.get 1 local.get 2 f32x4.relaxed_madd) */
const RELAXED_SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, // type: (v128 v128 v128) → v128
  0x03, 0x02, 0x01, 0x00, // function 0 has type 0
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b, // code
]);

/** Whether this engine accepts relaxed SIMD (Chromium, Firefox, Node ≥ 22, Deno and Bun do; Node 20 needs --experimental-wasm-relaxed-simd). */
export function supportsRelaxedSimd(): boolean {
  return WebAssembly.validate(RELAXED_SIMD_PROBE);
}

/**
 * Which wasm build to run. `deterministic` (the default): model.wasm, the same bits on every engine
 * and machine. `relaxed`: model-relaxed.wasm, an error where it cannot run. `fastest`: relaxed where
 * the engine validates it, else deterministic. `auto` is the old name of `fastest`, kept so that
 * code written when it was the default keeps working.
 */
export type BuildChoice = 'deterministic' | 'relaxed' | 'fastest' | 'auto';

/** Every accepted `build` value, in the order the CLI lists them. */
export const BUILD_CHOICES: readonly BuildChoice[] = ['deterministic', 'relaxed', 'fastest', 'auto'];

/** What `loadModel` runs without a `build` option: results must not depend on the engine. */
export const DEFAULT_BUILD: BuildChoice = 'deterministic';

/**
 * The wasm file a loader runs for `choice` (Node and browser alike), with the SHA-256 the manifest
 * records for it; `relaxed` on an engine or a model without it is an error. `engineHint` ends the
 * message for an engine without relaxed SIMD.
 */
export function chooseBuild(manifest: Manifest, choice: BuildChoice | undefined, manifestLabel: string, engineHint: string): { file: string; sha256: string; build: 'deterministic' | 'relaxed' } {
  const wanted = choice ?? DEFAULT_BUILD;
  // Plain JavaScript callers can pass anything: a typo must not silently run another build.
  if (!BUILD_CHOICES.includes(wanted)) throw new VggcError(`loadModel: build must be ${BUILD_CHOICES.map((b) => `'${b}'`).join(', ')}, found ${JSON.stringify(wanted)}`);
  const relaxed = manifest.wasm.relaxed;
  if (wanted === 'relaxed' && !relaxed) throw new VggcError(`${manifestLabel}: this model has no relaxed-SIMD build (it was compiled with --kernels ${manifest.kernels})`);
  if (wanted === 'relaxed' && !supportsRelaxedSimd()) throw new VggcError(`loadModel: this ${engineHint}`);
  const fastest = wanted === 'fastest' || wanted === 'auto';
  if (relaxed && (wanted === 'relaxed' || (fastest && supportsRelaxedSimd()))) return { file: relaxed.file, sha256: relaxed.sha256, build: 'relaxed' };
  return { file: manifest.wasm.file, sha256: manifest.wasm.sha256, build: 'deterministic' };
}
