/**
 * The one error type whose message may reach a client: it carries its HTTP status, optional
 * response headers and extra body fields (e.g. the failing `index` of a batch). Of anything else
 * thrown while serving a request, only the 4xx errors of koa's own stack are answered as such
 * (src/http/errors.ts words them); the rest is logged and answered with a generic 500.
 */
export class HttpError extends Error {
  readonly status: number
  readonly headers: Record<string, string>
  readonly extra: Record<string, unknown>

  constructor(
    status: number,
    message: string,
    options: { headers?: Record<string, string>; extra?: Record<string, unknown> } = {},
  ) {
    super(message)
    this.status = status
    this.headers = options.headers ?? {}
    this.extra = options.extra ?? {}
  }
}

export const badRequest = (message: string, extra?: Record<string, unknown>) => new HttpError(400, message, { extra })

/** A 503 the client may retry after a second: ClickHouse failed, the queue is full, or the server stops. */
export const unavailable = (message: string) => new HttpError(503, message, { headers: { 'Retry-After': '1' } })

/** The first line of an error's message: what a log field, a status entry or the CLI shows. */
export function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]
}

/**
 * An expected failure, told in one line: the CLI prints its message (exit code 1) without a
 * stack. A bad configuration and an unreachable ClickHouse are such failures too.
 */
export class UsageError extends Error {}
