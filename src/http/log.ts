import type { Middleware } from 'koa'
import type { Logger } from '../logger.ts'

/** One log line per request: method, path (no query string, no headers, so never a token), status, duration. */
export function logRequests(logger: Logger): Middleware {
  return async (ctx, next) => {
    const start = performance.now()
    try {
      await next()
    } finally {
      logger.info({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round((performance.now() - start) * 10) / 10 }, 'request')
    }
  }
}
