/** Types of adaptive-pool.mjs (plain JavaScript, shared with the benchmark). */
export function adaptivePoolMatrix(h: number, w: number, oh: number, ow: number): Float32Array;
