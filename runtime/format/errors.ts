/**
 * The one error type vggc shows to users. Its message is a single line that names the file, field or
 * tensor and says what was found and what was expected. The CLI prints `error: <message>` and exits 1
 * without a stack trace; anything that is not a VggcError is a bug in vggc and keeps its stack.
 */
export class VggcError extends Error {
  override readonly name = 'VggcError';
  constructor(message: string) {
    super(message.replace(/\s*\n\s*/g, ' '));
  }
}

export function isVggcError(e: unknown): e is VggcError {
  return e instanceof VggcError;
}
