import Router from '@koa/router'
import type { Context } from 'koa'
import type { Definitions } from '../definitions/definitions.ts'
import { unavailable } from '../errors.ts'
import { requireScope } from '../http/auth.ts'
import { jsonBody } from '../http/body.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics/metrics.ts'
import type { PrivacyKeys } from '../privacy/keys.ts'
import type { Tokens } from '../tokens/tokens.ts'
import type { Wildcards } from '../wildcards/wildcards.ts'
import type { BucketCache } from './cache.ts'
import { computeRows, type AggregateQuery, type AggregateRow } from './compute.ts'
import { toAggregateResponse } from './format.ts'
import { addNoise } from './noise.ts'
import { wholePeriods } from './periods.ts'
import { toAggregateParams } from './schema.ts'
import { rollupsOf } from './sets.ts'
import { suppressComplements } from './suppression.ts'

export type AggregateRoutesDeps = {
  definitions: Definitions
  wildcards: Wildcards
  tokens: Tokens
  privacy: PrivacyKeys
  cache: BucketCache
  bodyLimit: string
  logger: Logger
  metrics: Pick<Metrics, 'auth'>
}

/**
 * The original read its parameters from a JSON body, even on GET; a client that cannot send one
 * uses the query string. A body wins when it holds anything (koa-body reads no body as {}).
 */
function paramsOf(ctx: Context): unknown {
  const body: unknown = ctx.request.body
  const bodyIsEmpty =
    body == null || (typeof body === 'object' && !Array.isArray(body) && Object.keys(body).length === 0)
  return bodyIsEmpty ? { ...ctx.query } : body
}

/** GET or POST /aggregate: answers computed from the cached bucket rows and the pending measures (src/aggregates/cache.ts). */
export function aggregateRoutes({
  definitions,
  wildcards,
  tokens,
  privacy,
  cache,
  bodyLimit,
  logger,
  metrics,
}: AggregateRoutesDeps): Router {
  const router = new Router()

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
    const needs = { values: query.withQuartiles, contributors: query.thresholdOn === 'contributors' }
    let rows: AggregateRow[]
    try {
      rows = await cache.read(query.measureName, query.startDate, query.endDate, needs, (stats) =>
        computeRows(query, stats),
      )
    } catch (err) {
      logger.error({ err, requestId: ctx.state.requestId }, 'reading aggregates from ClickHouse failed')
      throw unavailable('The aggregates could not be read, retry later')
    }
    // Privacy (docs/privacy.md): complementary suppression on the true counts first, for every
    // answer with rollups, then the definition's noise on what is shown.
    const shown = query.keepHidden ? suppressComplements(rows) : rows
    const noisy = definition.noise ? addNoise(shown, definition.name, query.period, definition.noise, privacy) : shown
    ctx.body = noisy.map((row) => toAggregateResponse(row, definition))
  }

  const middleware = [requireScope(tokens, 'aggregate:read', metrics.auth), jsonBody(bodyLimit), answer]
  router.get('/aggregate', ...middleware)
  router.post('/aggregate', ...middleware)
  return router
}
