import Router from '@koa/router'
import { readPublicFiles } from '../explorer/files.ts'
import { openApiDocument } from './document.ts'

/** GET /openapi.json, no auth: built once, from the schemas the routes validate with. */
export function openApiRoutes(): Router {
  const router = new Router()
  const body = JSON.stringify(openApiDocument(readPublicFiles()))
  router.get('/openapi.json', (ctx) => {
    ctx.type = 'json'
    ctx.body = body
  })
  return router
}
