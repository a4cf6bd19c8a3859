/**
 * An answer other than 200, with the one-line message the client sees as OIP's error object
 * `{"error": "..."}`. Thrown anywhere below a route; the app's error handler turns it into a reply.
 */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message.replace(/\s*\n\s*/g, ' '));
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, message);
