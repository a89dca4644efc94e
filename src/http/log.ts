import crypto from 'node:crypto'
import type { Middleware } from 'koa'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics/metrics.ts'

/**
 * An incoming X-Request-Id is kept when it could only be an id (a UUID, a proxy's or a load
 * balancer's trace id): bounded, with no spaces, quotes or control characters that would let a
 * client forge or garble log lines. Anything else gets an id of ours.
 */
const SANE_REQUEST_ID = /^[\w.:/+=@-]{1,128}$/

/**
 * One log line per request: its id, method, path (no query string, no headers, so never a token),
 * status, duration. The id is echoed in the X-Request-Id response header, so a client or a proxy
 * can quote it, and kept in `ctx.state.requestId` for other log lines about the request.
 * The same duration counts the request in the metrics, by method, route and status: the route is
 * the pattern of the route that answered (`/explorer/:file`), never the path a client sent, so
 * that the label's values stay the router's few; `unmatched` when no route did (404, 405).
 */
export function logRequests(logger: Logger, requests: Metrics['http']): Middleware {
  return async (ctx, next) => {
    const start = performance.now()
    const incoming = ctx.get('X-Request-Id')
    const requestId = SANE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID()
    ctx.state.requestId = requestId
    ctx.set('X-Request-Id', requestId)
    try {
      await next()
    } finally {
      const ms = performance.now() - start
      // Set by @koa/router on the route it runs.
      const route = String((ctx as { routerPath?: string }).routerPath ?? 'unmatched')
      requests.observe(ctx.method, route, ctx.status, ms / 1000)
      logger.info(
        { requestId, method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round(ms * 10) / 10 },
        'request',
      )
    }
  }
}
