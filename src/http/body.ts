import type { Middleware } from 'koa'
import { HttpMethodEnum, koaBody } from 'koa-body'
import { HttpError } from '../errors.ts'

/**
 * JSON bodies only (strict: an object or an array). An empty body parses as {}, which the
 * routes answer like the original did for an empty measure. Parse and size errors keep their
 * status (400, 413) and are worded by the error renderer.
 */
export function jsonBody(limit: string): Middleware {
  const parse = koaBody({
    json: true,
    jsonStrict: true,
    jsonLimit: limit,
    urlencoded: false,
    text: false,
    multipart: false,
    parsedMethods: [HttpMethodEnum.POST, HttpMethodEnum.GET],
  }) as unknown as Middleware
  return async (ctx, next) => {
    if (ctx.request.length && !ctx.is('json')) throw new HttpError(415, 'Content-Type must be application/json')
    return parse(ctx, next)
  }
}
