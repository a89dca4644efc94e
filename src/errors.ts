/**
 * The one error type whose message may reach a client: it carries its HTTP status, optional
 * response headers and extra body fields (e.g. the failing `index` of a batch). Anything else
 * thrown while serving a request is an internal error, logged and answered with a generic 500.
 */
export class HttpError extends Error {
  readonly status: number
  readonly headers: Record<string, string>
  readonly extra: Record<string, unknown>

  constructor(status: number, message: string, options: { headers?: Record<string, string>; extra?: Record<string, unknown> } = {}) {
    super(message)
    this.status = status
    this.headers = options.headers ?? {}
    this.extra = options.extra ?? {}
  }
}

export const badRequest = (message: string, extra?: Record<string, unknown>) => new HttpError(400, message, { extra })

/** An error that the CLI prints as its one line (exit code 1) without a stack. */
export class UsageError extends Error {}
