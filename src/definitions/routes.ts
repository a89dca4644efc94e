import Router from '@koa/router'
import { requireScope } from '../http/auth.ts'
import type { Metrics } from '../metrics/metrics.ts'
import type { Tokens } from '../tokens/tokens.ts'
import type { Definitions } from './definitions.ts'
import { PUBLIC_FIELDS } from './schema.ts'

/** GET /definitions: the definitions whose aggregates may be read (accessApp or accessPublic), by name, absent fields omitted. */
export function definitionRoutes({
  definitions,
  tokens,
  metrics,
}: {
  definitions: Definitions
  tokens: Tokens
  metrics: Pick<Metrics, 'auth'>
}): Router {
  const router = new Router()
  router.get('/definitions', requireScope(tokens, 'aggregate:read', metrics.auth), (ctx) => {
    ctx.body = definitions
      .list()
      .map(({ definition }) => definition)
      .filter((definition) => definition.accessApp || definition.accessPublic)
      .map((definition) =>
        Object.fromEntries(
          PUBLIC_FIELDS.filter((field) => definition[field] != null).map((field) => [field, definition[field]]),
        ),
      )
  })
  return router
}
