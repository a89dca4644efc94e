import Router from '@koa/router'
import type { Context } from 'koa'
import { HttpError } from '../errors.ts'
import type { StaticFile } from './files.ts'

/**
 * The page handles a read token, so it runs only its own script and stylesheet (no inline code,
 * nothing from elsewhere), talks only to this service, and cannot be framed.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

/** GET / (the explorer page) and GET /explorer/<file> (its script, stylesheet and icon). */
export function explorerRoutes(files: Map<string, StaticFile>): Router {
  const router = new Router()
  const send = (ctx: Context, name: string) => {
    const file = files.get(name)
    if (!file) throw new HttpError(404, `Not found: ${ctx.method} ${ctx.path}`)
    ctx.set({
      'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      // Revalidated on every load (a 304 while unchanged), so a new version is seen at once.
      'Cache-Control': 'no-cache',
    })
    ctx.etag = file.etag
    ctx.status = 200
    if (ctx.fresh) {
      ctx.status = 304
      return
    }
    ctx.type = file.type
    ctx.body = file.body
  }
  router.get('/', (ctx) => send(ctx, 'index.html'))
  router.get('/explorer/:file', (ctx) => send(ctx, ctx.params.file))
  return router
}
