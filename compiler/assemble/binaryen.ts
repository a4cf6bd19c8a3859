/**
 * Stage 7b: wasm bytes → final model.wasm. binaryen validates the module, checks that it keeps out of
 * the activation arena (no static data: the generated kernels need none, everything is an address
 * fixed at compile time), and adds the `vggc` custom section that ties this module to its weights.
 */
import binaryen from 'binaryen';

import { WASM_TAG_SECTION, type WasmTag } from '../../runtime/format/wasm-tag.js';

export function finishModule(wasm: Uint8Array, tag: WasmTag): Uint8Array {
  // Read with every feature allowed: asc already decided which ones the module uses.
  const module = binaryen.readBinary(wasm);
  try {
    module.setFeatures(binaryen.Features.All);
    if (!module.validate()) throw new Error('binaryen rejected the generated module (see the validation messages above)');
    // binaryen.js has this method, its .d.ts still calls it getNumMemorySegments.
    const dataSegments = (module as unknown as { getNumDataSegments(): number }).getNumDataSegments();
    if (dataSegments !== 0) throw new Error(`the generated module has ${dataSegments} data segment(s); kernels must not need static data`);
    module.addCustomSection(WASM_TAG_SECTION, new TextEncoder().encode(JSON.stringify(tag)));
    return module.emitBinary();
  } finally {
    module.dispose();
  }
}
