/**
 * The run parameters: two i32s the host writes into wasm memory before it calls a step, at the
 * address model.json gives as `memory.params` (below the arena, where AssemblyScript keeps no data).
 * The compiler bakes the same offsets into the generated kernels.
 */

/** Where the compiler places the run parameters (a multiple of 16, below the arena). */
export const RUN_PARAMS_ADDRESS = 1024;
/** Byte offset of the index of the image that `image` steps work on. */
export const RUN_PARAM_IMAGE = 0;
/** Byte offset of the number of images that `batch` steps work on. */
export const RUN_PARAM_IMAGES = 4;
/** Bytes the run parameters occupy. */
export const RUN_PARAMS_BYTES = 8;
