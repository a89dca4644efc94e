import Koa from 'koa'
import { aggregateRoutes } from './aggregates/routes.ts'
import type { ClickHouse } from './clickhouse/client.ts'
import type { Config } from './config.ts'
import type { Definitions } from './definitions/definitions.ts'
import { definitionRoutes } from './definitions/routes.ts'
import { readPublicFiles } from './explorer/files.ts'
import { explorerRoutes } from './explorer/routes.ts'
import { renderErrors } from './http/errors.ts'
import { logRequests } from './http/log.ts'
import type { Logger } from './logger.ts'
import type { Batcher } from './measures/batcher.ts'
import { measureRoutes } from './measures/routes.ts'
import type { Queued } from './measures/queries.ts'
import { openApiRoutes } from './openapi/routes.ts'
import type { PrivacyKeys } from './privacy/keys.ts'
import { statusRoutes } from './status/routes.ts'
import type { Store } from './store/store.ts'
import type { Tokens } from './tokens/tokens.ts'
import type { Wildcards } from './wildcards/wildcards.ts'

/** Everything a request may need, built once by the server (see server.ts). */
export type Deps = {
  config: Config
  logger: Logger
  clickhouse: ClickHouse
  store: Store
  definitions: Definitions
  tokens: Tokens
  wildcards: Wildcards
  privacy: PrivacyKeys
  batcher: Batcher<Queued>
}

/** The list of what a request passes through, in order. */
export function createApp(deps: Deps): Koa {
  const app = new Koa()
  app.use(logRequests(deps.logger))
  app.use(renderErrors(deps.logger))
  // Read once: the explorer serves them, the API document lists them.
  const explorerFiles = readPublicFiles()
  const routers = [
    statusRoutes(deps),
    measureRoutes(deps),
    aggregateRoutes(deps),
    definitionRoutes(deps),
    openApiRoutes(explorerFiles),
    explorerRoutes(explorerFiles),
  ]
  for (const router of routers) {
    app.use(router.routes())
    app.use(router.allowedMethods())
  }
  return app
}
