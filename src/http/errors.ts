import { STATUS_CODES } from 'node:http'
import type { Middleware } from 'koa'
import type { Logger } from '../logger.ts'
import { HttpError } from '../errors.ts'

/**
 * Renders every failure as `{"error": "..."}` with its status. Only HttpErrors and the 4xx
 * errors of koa's own stack (body parser, router) show their message; anything else is logged
 * and answered with a bare 500, never a stack or an internal message.
 */
export function renderErrors(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next()
      if (ctx.body === undefined && ctx.status >= 400)
        throw unanswered(ctx.status, ctx.method, ctx.path, ctx.response.get('Allow'))
    } catch (err) {
      const error = toHttpError(err)
      if (error.status >= 500 && !(err instanceof HttpError))
        logger.error({ err, requestId: ctx.state.requestId }, 'request failed')
      ctx.status = error.status
      ctx.set(error.headers)
      ctx.body = { error: error.message, ...error.extra }
    }
  }
}

/**
 * What nobody answered: no route (404), or the routers' verdict on the method, which they leave
 * without a body but with an `Allow` header — 405 for a known path, 501 for a method no route
 * knows, which is bad input too: a 405 where the path exists, else a 404.
 */
function unanswered(status: number, method: string, path: string, allow: string): HttpError {
  if ((status === 405 || status === 501) && allow) return new HttpError(405, 'Method Not Allowed')
  return new HttpError(404, `Not found: ${method} ${path}`)
}

/** What the client is answered for `err`: its status and public message. */
export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err
  const { status, expose, message, headers, code } = (err ?? {}) as {
    status?: number
    expose?: boolean
    message?: string
    headers?: Record<string, string>
    code?: unknown
  }
  // zlib, inflating a body sent with Content-Encoding: gzip or deflate that is not.
  if (typeof code === 'string' && code.startsWith('Z_')) return new HttpError(400, 'Malformed compressed body')
  if (typeof status !== 'number' || status < 400 || status >= 500) return new HttpError(500, 'Internal Server Error')
  // The body parser's errors (co-body / raw-body), in our words.
  if (status === 400 && err instanceof SyntaxError) return new HttpError(400, 'Malformed JSON body')
  if (status === 413) return new HttpError(413, 'Request body is too large')
  return new HttpError(status, expose && message ? message : (STATUS_CODES[status] ?? 'Bad Request'), { headers })
}
