import type { Middleware } from 'koa'
import { HttpMethodEnum, koaBody } from 'koa-body'
import { HttpError } from '../errors.ts'

export const NDJSON = 'application/x-ndjson'

/**
 * JSON bodies (strict: an object or an array), and with `ndjson` also newline-delimited JSON,
 * left as text for the route to split. An empty JSON body parses as {}, which the routes answer
 * like the original did for an empty measure. Parse and size errors keep their status (400, 413)
 * and are worded by the error renderer.
 */
export function jsonBody(limit: string, { ndjson = false } = {}): Middleware {
  const parse = koaBody({
    json: true,
    jsonStrict: true,
    jsonLimit: limit,
    text: ndjson,
    textLimit: limit,
    textTypes: [NDJSON],
    urlencoded: false,
    multipart: false,
    parsedMethods: [HttpMethodEnum.POST, HttpMethodEnum.GET],
    // Strict parsing refuses a bare `null`; the original read it as no body ("... cannot be empty").
    onError: (err, ctx) => {
      if (String((err as { body?: unknown }).body).trim() !== 'null') throw err
      ctx.request.body = null
    },
  }) as unknown as Middleware
  const accepted = ndjson ? 'application/json or application/x-ndjson' : 'application/json'
  return async (ctx, next) => {
    // A body comes with a length or chunked (Transfer-Encoding): either way, it must be JSON.
    const hasBody = Boolean(ctx.request.length || ctx.get('Transfer-Encoding'))
    if (hasBody && !ctx.is('json') && !(ndjson && ctx.is(NDJSON)))
      throw new HttpError(415, `Content-Type must be ${accepted}`)
    return parse(ctx, next)
  }
}
