import Router from '@koa/router'
import type { Context } from 'koa'
import type { Deps } from '../app.ts'
import type { Definition } from '../definitions/schema.ts'
import { unavailable } from '../errors.ts'
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

  // Privacy (docs/privacy.md) applies before the answer is cached: complementary suppression on
  // the true counts first, for every answer with rollups, then the definition's noise on what is shown.
  const read = async (query: AggregateQuery, definition: Definition): Promise<string> => {
    let rows
    try {
      rows = await selectAggregates(clickhouse.client, query)
    } catch (err) {
      logger.error({ err }, 'reading aggregates from ClickHouse failed')
      throw unavailable('The aggregates could not be read, retry later')
    }
    const shown = query.keepHidden ? suppressComplements(rows) : rows
    const answer = definition.noise ? addNoise(shown, definition.name, query.period, definition.noise, privacy) : shown
    return JSON.stringify(answer.map((row) => toAggregateResponse(row, definition)))
  }

  const answer = async (ctx: Context) => {
    const { definition, ...params } = toAggregateParams(paramsOf(ctx), definitions.get)
    const wholeOnly = definition.fixedPublication === true || definition.noise != null
    const range = wholeOnly ? wholePeriods(params.startDate, params.endDate, params.period) : params
    const rollups = rollupsOf(definition, params.wildcard, wildcards.forMeasure(definition.name))
    const query: AggregateQuery = {
      measureName: definition.name,
      startDate: range.startDate,
      endDate: range.endDate,
      createdBy: params.createdBy,
      period: params.period,
      threshold: definition.aggregationThreshold,
      thresholdOn: definition.thresholdOn ?? 'measures',
      // A "*" row sums other rows of the answer, so one hidden among them could be had by
      // subtraction: suppression needs the hidden rows' keys. Without rollups nothing sums
      // anything, and the answer is the threshold's alone, as the original's.
      keepHidden: rollups.length > 0,
      withQuartiles: definition.withQuartiles,
      rollups,
    }
    ctx.type = 'json'
    ctx.body = await cached(JSON.stringify([query, definition]), () => read(query, definition))
  }

  const middleware = [requireScope(deps.tokens, 'aggregate:read'), jsonBody(deps.config.bodyLimit), answer]
  router.get('/aggregate', ...middleware)
  router.post('/aggregate', ...middleware)
  return router
}
