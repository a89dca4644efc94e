import Router from '@koa/router'
import type { Context } from 'koa'
import type { Deps } from '../app.ts'
import { HttpError, badRequest, unavailable } from '../errors.ts'
import { requireScope } from '../http/auth.ts'
import { jsonBody } from '../http/body.ts'
import type { Claims } from '../tokens/tokens.ts'
import { idempotencyKeyOf } from './idempotency.ts'
import { toMeasureRow, type MeasureRow } from './schema.ts'

export function measureRoutes(deps: Deps): Router {
  const { definitions, batcher, logger, config } = deps
  const router = new Router()
  const canWrite = requireScope(deps.tokens, 'measure:write')

  /**
   * Resolves once the rows are in ClickHouse (or were already, for a retry with the same
   * Idempotency-Key); a failed write is a 503 the producer may retry.
   */
  async function store(rows: MeasureRow[], idempotencyKey: string): Promise<void> {
    try {
      await batcher.add({ rows, idempotencyKey })
    } catch (err) {
      if (err instanceof HttpError) throw err
      logger.error({ err }, 'writing measures to ClickHouse failed')
      throw unavailable('The measures could not be stored, retry later')
    }
  }

  // Checked before the body, so that a bad header does not cost a pass over 10,000 items.
  const keyOf = (ctx: Context) => idempotencyKeyOf(ctx.get('Idempotency-Key'), (ctx.state.auth as Claims).tokenId)

  router.post('/measure', canWrite, jsonBody(config.bodyLimit), async (ctx) => {
    const key = keyOf(ctx)
    await store([toMeasureRow(ctx.request.body, definitions.get)], key)
    ctx.status = 201
    ctx.body = { ok: true }
  })

  // All or nothing: every item is validated before any is queued, and they are queued together
  // so they land in the same INSERT.
  router.post('/measures', canWrite, jsonBody(config.ingest.batchBodyLimit, { ndjson: true }), async (ctx) => {
    const key = keyOf(ctx)
    const items = measuresOf(ctx)
    if (items.length === 0) throw badRequest('The measures cannot be empty')
    if (items.length > config.ingest.maxMeasuresPerRequest) {
      throw new HttpError(413, `Too many measures in one request: at most ${config.ingest.maxMeasuresPerRequest}`)
    }
    const rows = items.map((item, index) => {
      try {
        return toMeasureRow(item, definitions.get)
      } catch (err) {
        if (err instanceof HttpError) throw badRequest(err.message, { index })
        throw err
      }
    })
    await store(rows, key)
    ctx.status = 201
    ctx.body = { ok: true, count: rows.length }
  })

  return router
}

/** The items of a POST /measures body: a JSON array, or one JSON value per NDJSON line. */
function measuresOf(ctx: Context): unknown[] {
  const body = ctx.request.body as unknown
  if (typeof body !== 'string') {
    if (!Array.isArray(body)) throw badRequest('The body must be a JSON array of measures')
    return body
  }
  const lines = body.split('\n')
  const items: unknown[] = []
  for (const [index, line] of lines.entries()) {
    if (line.trim() === '') continue
    try {
      items.push(JSON.parse(line))
    } catch {
      throw badRequest(`Malformed JSON on line ${index + 1}`, { index: items.length })
    }
  }
  return items
}
