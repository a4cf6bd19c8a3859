// The compiler and the runtime share one user-facing error type; it lives with the runtime, which
// must not depend on the compiler.
export { VggcError, isVggcError } from '../runtime/format/errors.js';
