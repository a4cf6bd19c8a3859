/**
 * Reading named outputs out of wasm memory (model.json `outputs`): vectors from their per-image slot,
 * maps from the padded NHWC arena layout into NCHW (PyTorch's) or NHWC (TF.js's), into an array per
 * output that holds the whole batch. A per-image output is read right after that image's steps (the
 * next image reuses the arena); a per-batch one after the classifier, for every image of the group.
 */
import type { ManifestOutput } from './format/manifest.js';
import type { ModelOutput } from './model.js';

export interface OutputCopier {
  readonly info: ModelOutput;
  readonly phase: 'image' | 'batch';
  /** Floats per image. */
  readonly size: number;
  /** Copies image `slot` of the group (its vector slot; maps hold one image) to image `at` of `into`. */
  copy(into: Float32Array, slot: number, at: number): void;
}

export function outputCopiers(buffer: ArrayBufferLike, outputs: readonly ManifestOutput[]): OutputCopier[] {
  return outputs.map((o) => {
    // The shape as returned: NHWC maps are (h, w, c).
    const info: ModelOutput = { name: o.name, shape: o.layout === 'nhwc' ? [o.shape[1], o.shape[2], o.shape[0]] : o.shape, layout: o.layout };
    const size = o.shape.reduce((a, b) => a * b, 1);
    const t = o.tensor;
    const [c, h, w] = o.shape;
    if (t.layout === 'vector') {
      const stride = t.imageStride!;
      // One view per batch slot, made on first use: infer() must not allocate a view per image.
      const views: Float32Array[] = [];
      const slotOf = (slot: number): Float32Array => (views[slot] ??= new Float32Array(buffer, t.offset + slot * stride * 4, size));
      // A vector, or a map the classifier reads flattened (avgpool): floats in (c, h, w) order.
      // NHWC maps and Keras-order flattens (features-hwc) are that order transposed to (h, w, c).
      const chw = o.layout === 'nhwc' ? o.shape : o.layout === 'features-hwc' ? o.flattened! : null;
      if (!chw) return { info, phase: o.phase, size, copy: (into, slot, at) => into.set(slotOf(slot), at * size) };
      const [fc, fh, fw] = chw;
      return { info, phase: o.phase, size, copy: (into, slot, at) => chwToHwc(slotOf(slot), into, at * size, fc, fh * fw) };
    }
    const stored = new Float32Array(buffer, t.offset, t.rows! * t.cols! * t.channelStride!);
    const cols = t.cols!;
    const stride = t.channelStride!;
    const nchw = o.layout === 'nchw';
    return {
      info, phase: o.phase, size,
      copy(into, _slot, at) {
        const base = at * size;
        for (let y = 0; y < h; y++) {
          for (let x = 0; x < w; x++) {
            const from = ((y + 1) * cols + x + 1) * stride;
            if (nchw) for (let ch = 0; ch < c; ch++) into[base + (ch * h + y) * w + x] = stored[from + ch];
            else into.set(stored.subarray(from, from + c), base + (y * w + x) * c);
          }
        }
      },
    };
  });
}

/** `from` as (c, pixels) → `into` at `base` as (pixels, c). */
function chwToHwc(from: Float32Array, into: Float32Array, base: number, c: number, pixels: number): void {
  for (let ch = 0; ch < c; ch++) for (let i = 0; i < pixels; i++) into[base + i * c + ch] = from[ch * pixels + i];
}
