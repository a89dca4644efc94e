import Router from '@koa/router'
import type { StaticFile } from '../explorer/files.ts'
import { openApiDocument } from './document.ts'

/** GET /openapi.json, no auth: built once, from the schemas the routes validate with and the explorer's files. */
export function openApiRoutes(explorerFiles: Map<string, StaticFile>): Router {
  const router = new Router()
  const body = JSON.stringify(openApiDocument(explorerFiles))
  router.get('/openapi.json', (ctx) => {
    ctx.type = 'json'
    ctx.body = body
  })
  return router
}
