import Koa from 'koa'
import type { BucketCache } from './aggregates/cache.ts'
import { aggregateRoutes } from './aggregates/routes.ts'
import type { Config } from './config.ts'
import type { Definitions } from './definitions/definitions.ts'
import { definitionRoutes } from './definitions/routes.ts'
import { readPublicFiles } from './explorer/files.ts'
import { explorerRoutes } from './explorer/routes.ts'
import { renderErrors } from './http/errors.ts'
import { logRequests } from './http/log.ts'
import type { Logger } from './logger.ts'
import { measureRoutes } from './measures/routes.ts'
import type { Writer } from './measures/writer.ts'
import type { Metrics } from './metrics/metrics.ts'
import { openApiRoutes } from './openapi/routes.ts'
import type { PrivacyKeys } from './privacy/keys.ts'
import { statusRoutes, type StatusDeps } from './status/routes.ts'
import type { Tokens } from './tokens/tokens.ts'
import type { Wildcards } from './wildcards/wildcards.ts'

/** What the routes are built from (server.ts builds it); each router takes the part it uses. */
export type AppDeps = {
  config: Config
  logger: Logger
  definitions: Definitions
  tokens: Tokens
  wildcards: Wildcards
  privacy: PrivacyKeys
  writer: Pick<Writer, 'write'>
  cache: BucketCache
  status: StatusDeps
  metrics: Metrics
}

/** The list of what a request passes through, in order. */
export function createApp({
  config,
  logger,
  definitions,
  tokens,
  wildcards,
  privacy,
  writer,
  cache,
  status,
  metrics,
}: AppDeps): Koa {
  const app = new Koa()
  app.use(logRequests(logger, metrics.http))
  app.use(renderErrors(logger))
  // Read once: the explorer serves them, the API document lists them.
  const explorerFiles = readPublicFiles()
  const routers = [
    statusRoutes(status),
    measureRoutes({ definitions, tokens, writer, bodyLimit: config.bodyLimit, ingest: config.ingest, metrics }),
    aggregateRoutes({ definitions, wildcards, tokens, privacy, cache, bodyLimit: config.bodyLimit, logger, metrics }),
    definitionRoutes({ definitions, tokens, metrics }),
    openApiRoutes(explorerFiles),
    explorerRoutes(explorerFiles),
  ]
  for (const router of routers) {
    app.use(router.routes())
    app.use(router.allowedMethods())
  }
  return app
}
