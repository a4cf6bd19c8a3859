/**
 * Reading fields of Keras / TF.js JSON. Keras and the converter write snake_case keys
 * (`batch_input_shape`, `kernel_size`); tfjs-layers' own serialisation does too, but configs built by
 * hand or by other tools sometimes use tfjs-layers' in-memory camelCase (`batchInputShape`), so
 * every lookup tries both spellings.
 */

export type JsonObject = Record<string, unknown>;

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `kernel_size` → `kernelSize`. */
export function camelCase(snake: string): string {
  return snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** The value of `key` (snake_case) or its camelCase twin; undefined when neither is present. */
export function field(obj: JsonObject, key: string): unknown {
  if (Object.prototype.hasOwnProperty.call(obj, key)) return obj[key];
  const camel = camelCase(key);
  return Object.prototype.hasOwnProperty.call(obj, camel) ? obj[camel] : undefined;
}

/** A short rendering of a JSON value for a one-line message (long values are cut). */
export function show(v: unknown): string {
  let s: string;
  try {
    s = v === undefined ? 'undefined' : JSON.stringify(v).replace(/,/g, ', ');
  } catch {
    s = String(v);
  }
  s = s.replace(/[\r\n]+/g, ' ');
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** A layer or weight name as it appears in messages, with quotes and control characters escaped. */
export function quote(name: string): string {
  return JSON.stringify(name);
}
