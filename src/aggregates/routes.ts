import Router from '@koa/router'
import type { Context } from 'koa'
import type { Deps } from '../app.ts'
import type { Definition } from '../definitions/definitions.ts'
import { HttpError } from '../errors.ts'
import { requireScope } from '../http/auth.ts'
import { jsonBody } from '../http/body.ts'
import { toAggregateResponse } from './format.ts'
import { createAnswerCache } from './cache.ts'
import { addNoise } from './noise.ts'
import { wholePeriods } from './periods.ts'
import { selectAggregates, type AggregateQuery } from './queries.ts'
import { toAggregateParams } from './schema.ts'
import { rollupsOf } from './sets.ts'
import { suppressComplements } from './suppression.ts'

/**
 * The original read its parameters from a JSON body, even on GET; a client that cannot send one
 * uses the query string. A body wins when it holds anything (koa-body reads no body as {}).
 */
function paramsOf(ctx: Context): unknown {
  const body: unknown = ctx.request.body
  const bodyIsEmpty = body == null || (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0)
  return bodyIsEmpty ? { ...ctx.query } : body
}

export function aggregateRoutes(deps: Deps): Router {
  const { clickhouse, definitions, wildcards, privacy, logger } = deps
  const router = new Router()
  const cached = createAnswerCache<string>(deps.config.aggregate.maxStalenessMs)

  // The privacy options (docs/privacy.md) apply before the answer is cached: suppression on the
  // true counts first, then noise on what is shown.
  const read = async (query: AggregateQuery, definition: Definition): Promise<string> => {
    try {
      const rows = await selectAggregates(clickhouse.client, query)
      const shown = definition.complementarySuppression ? suppressComplements(rows) : rows
      const answer = definition.noise ? addNoise(shown, definition.name, query.period, definition.noise, privacy) : shown
      return JSON.stringify(answer.map((row) => toAggregateResponse(row, definition)))
    } catch (err) {
      logger.error({ err }, 'reading aggregates from ClickHouse failed')
      throw new HttpError(503, 'The aggregates could not be read, retry later', { headers: { 'Retry-After': '1' } })
    }
  }

  const answer = async (ctx: Context) => {
    const { definition, ...params } = toAggregateParams(paramsOf(ctx), definitions.get)
    const wholeOnly = definition.complementarySuppression === true || definition.noise != null
    const range = wholeOnly ? wholePeriods(params.startDate, params.endDate, params.period) : params
    const query: AggregateQuery = {
      measureName: definition.name,
      startDate: range.startDate,
      endDate: range.endDate,
      createdBy: params.createdBy,
      period: params.period,
      threshold: definition.aggregationThreshold,
      thresholdOn: definition.thresholdOn ?? 'measures',
      keepHidden: definition.complementarySuppression === true,
      withQuartiles: definition.withQuartiles,
      rollups: rollupsOf(definition, params.wildcard, wildcards.forMeasure(definition.name)),
    }
    ctx.type = 'json'
    ctx.body = await cached(JSON.stringify([query, definition]), () => read(query, definition))
  }

  const middleware = [requireScope(deps.tokens, 'aggregate:read'), jsonBody(deps.config.bodyLimit), answer]
  router.get('/aggregate', ...middleware)
  router.post('/aggregate', ...middleware)
  return router
}
