import Router from '@koa/router'
import type { Context } from 'koa'
import type { Config } from '../config.ts'
import type { Definitions } from '../definitions/definitions.ts'
import { HttpError, badRequest } from '../errors.ts'
import { requireScope } from '../http/auth.ts'
import { jsonBody } from '../http/body.ts'
import type { Metrics } from '../metrics/metrics.ts'
import type { Claims, Tokens } from '../tokens/tokens.ts'
import { idempotencyKeyOf } from './idempotency.ts'
import { countRefusals } from './refusals.ts'
import { toMeasure } from './schema.ts'
import type { Writer } from './writer.ts'

export type MeasureRoutesDeps = {
  definitions: Definitions
  tokens: Tokens
  /** Resolves once the measures are durable in the journal (src/measures/writer.ts). */
  writer: Pick<Writer, 'write'>
  bodyLimit: string
  ingest: Pick<Config['ingest'], 'batchBodyLimit' | 'maxMeasuresPerRequest'>
  metrics: Pick<Metrics, 'auth' | 'writes'>
}

/** POST /measure and POST /measures: validated, then answered 201 once durable (or 503, nothing of them stored). */
export function measureRoutes({ definitions, tokens, writer, bodyLimit, ingest, metrics }: MeasureRoutesDeps): Router {
  const router = new Router()
  const canWrite = requireScope(tokens, 'measure:write', metrics.auth)
  // After auth, which counts its own refusals.
  const refusals = countRefusals(metrics.writes)

  // Checked before the body, so that a bad header does not cost a pass over 10,000 items.
  const keyOf = (ctx: Context) => idempotencyKeyOf(ctx.get('Idempotency-Key'), (ctx.state.auth as Claims).tokenId)

  router.post('/measure', canWrite, refusals, jsonBody(bodyLimit), async (ctx) => {
    const key = keyOf(ctx)
    await writer.write([toMeasure(ctx.request.body, definitions.get)], key)
    ctx.status = 201
    ctx.body = { ok: true }
  })

  // All or nothing: every item is validated before any is written, and they are written together,
  // in one journal append (and one ClickHouse INSERT).
  router.post('/measures', canWrite, refusals, jsonBody(ingest.batchBodyLimit, { ndjson: true }), async (ctx) => {
    const key = keyOf(ctx)
    const items = measuresOf(ctx)
    if (items.length === 0) throw badRequest('The measures cannot be empty')
    if (items.length > ingest.maxMeasuresPerRequest) {
      throw new HttpError(413, `Too many measures in one request: at most ${ingest.maxMeasuresPerRequest}`)
    }
    const measures = items.map((item, index) => {
      try {
        return toMeasure(item, definitions.get)
      } catch (err) {
        if (err instanceof HttpError) throw badRequest(err.message, { index })
        throw err
      }
    })
    await writer.write(measures, key)
    ctx.status = 201
    ctx.body = { ok: true, count: measures.length }
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
