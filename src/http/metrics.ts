import type { Middleware } from 'koa'
import type { Metrics } from '../metrics/metrics.ts'

/**
 * Counts every request by method, route and status, and times it by method and route. The route
 * is the pattern of the route that answered (`/explorer/:file`), never the path a client sent, so
 * that the label's values stay the router's few; `unmatched` when no route did (404, 405).
 */
export function countRequests(requests: Metrics['http']): Middleware {
  return async (ctx, next) => {
    const start = performance.now()
    try {
      await next()
    } finally {
      // Set by @koa/router on the route it runs.
      const route = String((ctx as { routerPath?: string }).routerPath ?? 'unmatched')
      requests.observe(ctx.method, route, ctx.status, (performance.now() - start) / 1000)
    }
  }
}
