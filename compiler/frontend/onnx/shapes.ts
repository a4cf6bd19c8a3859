/**
 * The constant subgraph torch emits for `x.view(x.shape[0], -1)` (Shape, Gather, Unsqueeze, Concat,
 * Constant, Cast, Squeeze, Identity): evaluated symbolically, with the batch size as a symbol, so that
 * a Reshape's target shape can be checked to be a flatten.
 */
import { attr, attributes, int, intValues, ints, SUPPORTED_OPS, type NodeProto } from './nodes.js';
import { toNumber } from './tensors.js';
import type { Dim, Value, Walk } from './walker.js';

export function visitConstant(w: Walk, node: NodeProto, op: string, get: (i: number) => Value | undefined, out0: string, fail: (m: string) => never): void {
  const attrs = attributes(node);
  const set = (v: Value): void => void w.values.set(out0, v);
  const intsOf = (i: number): { dims: Dim[]; scalar: boolean } => {
    const v = get(i);
    if (!v) return fail(`input ${i} is missing`);
    if (v.kind === 'ints') return { dims: [...v.dims], scalar: v.scalar };
    if (v.kind === 'const') return { dims: intValues(v.tensor, w.modelPath), scalar: (v.tensor.dims ?? []).length === 0 };
    return fail(`input ${i} is not a constant`);
  };
  switch (op) {
    case 'Constant': {
      const t = attr(attrs, 'value')?.t;
      if (t) return set({ kind: 'const', tensor: t, name: out0 });
      const vi = attr(attrs, 'value_ints');
      if (vi) return set({ kind: 'ints', dims: (vi.ints ?? []).map(toNumber), scalar: false });
      const v1 = attr(attrs, 'value_int');
      if (v1) return set({ kind: 'ints', dims: [toNumber(v1.i)], scalar: true });
      return fail('is a Constant of a kind vggc does not read (only tensors and integers)');
    }
    case 'Identity': {
      const v = get(0);
      if (!v) return fail('has no input');
      return set(v);
    }
    case 'Gather': {
      const data = intsOf(0);
      const idx = intsOf(1);
      if (int(attrs, 'axis', 0) !== 0 || data.scalar) fail('gathers along an axis other than 0 of a shape vector');
      const picked = idx.dims.map((d) => {
        if (typeof d !== 'number') return fail('has a non-constant index');
        const j = d < 0 ? d + data.dims.length : d;
        if (j < 0 || j >= data.dims.length) return fail(`index ${d} is out of range for a shape of rank ${data.dims.length}`);
        return data.dims[j];
      });
      return set({ kind: 'ints', dims: picked, scalar: idx.scalar });
    }
    case 'Unsqueeze': {
      const data = intsOf(0);
      const axes = w.opset >= 13 ? (get(1) ? intsOf(1).dims : []) : (ints(attrs, 'axes') ?? []);
      if (!data.scalar || axes.length !== 1 || axes[0] !== 0) fail('is not the unsqueeze of a scalar (as in x.view(x.shape[0], -1))');
      return set({ kind: 'ints', dims: data.dims, scalar: false });
    }
    case 'Concat': {
      const parts = (node.input ?? []).map((_, i) => intsOf(i));
      return set({ kind: 'ints', dims: parts.flatMap((p) => p.dims), scalar: false });
    }
    case 'Cast':
    case 'Squeeze': {
      const data = intsOf(0);
      return set({ kind: 'ints', dims: data.dims, scalar: op === 'Squeeze' ? data.dims.length === 1 : data.scalar });
    }
    default:
      fail(`operator ${op} on constants is not supported; vggc imports VGG graphs made of ${SUPPORTED_OPS}`);
  }
}

/** Shape(activation) → the activation's dims with the batch symbol (or its static size) first. */
export function shapeOf(shape: readonly number[], staticBatch: number | null, start: number, end: number | undefined): Dim[] {
  const dims: Dim[] = [staticBatch ?? 'batch', ...shape];
  if (start === 0 && end === undefined) return dims;
  const n = dims.length;
  const clamp = (i: number): number => Math.max(0, Math.min(n, i < 0 ? i + n : i));
  return dims.slice(clamp(start), clamp(end ?? n));
}

/** A Reshape's target shape, evaluated. */
export function shapeValue(w: Walk, v: Value | undefined, fail: (m: string) => never): Dim[] {
  if (!v) return fail('has no shape input');
  if (v.kind === 'ints') return [...v.dims];
  if (v.kind === 'const') return intValues(v.tensor, w.modelPath);
  return fail('its shape input is computed from the activation in a way vggc cannot follow');
}
