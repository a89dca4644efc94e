import Router from '@koa/router'
import type { Deps } from '../app.ts'
import { HttpError } from '../errors.ts'
import { requireScope } from '../http/auth.ts'
import { jsonBody } from '../http/body.ts'
import { toMeasureRow } from './schema.ts'

export function measureRoutes(deps: Deps): Router {
  const { definitions, batcher, logger } = deps
  const router = new Router()

  router.post('/measure', requireScope(deps.tokens, 'measure:write'), jsonBody(deps.config.bodyLimit), async (ctx) => {
    const row = toMeasureRow(ctx.request.body, definitions.get)
    try {
      await batcher.add([row])
    } catch (err) {
      if (err instanceof HttpError) throw err
      logger.error({ err }, 'writing measures to ClickHouse failed')
      throw new HttpError(503, 'The measure could not be stored, retry later', { headers: { 'Retry-After': '1' } })
    }
    ctx.status = 201
    ctx.body = { ok: true }
  })

  return router
}
