import type { AddressInfo } from 'node:net'
import http from 'node:http'
import { createApp, type Deps } from './app.ts'
import { openClickHouse } from './clickhouse/client.ts'
import { migrate } from './clickhouse/migrate.ts'
import type { Config } from './config.ts'
import { createDefinitions } from './definitions/definitions.ts'
import { createLogger, type Logger } from './logger.ts'
import { Batcher } from './measures/batcher.ts'
import { measureWriter } from './measures/idempotency.ts'
import type { Queued } from './measures/queries.ts'
import { openStore } from './store/store.ts'
import { createTokens } from './tokens/tokens.ts'
import { createWildcards } from './wildcards/wildcards.ts'

export type RunningServer = {
  url: string
  deps: Deps
  /** Stops accepting, finishes requests in flight, writes every queued measure, closes the stores. */
  close(): Promise<void>
}

/** Builds the dependencies, applies the schemas and listens: `dacc serve`, and the tests. */
export async function startServer(config: Config, logger: Logger = createLogger(config.log.level)): Promise<RunningServer> {
  const store = openStore(config.dataDir)
  let clickhouse
  try {
    clickhouse = await openClickHouse(config)
    await migrate(clickhouse.client, { cluster: config.clickhouse.cluster })
  } catch (err) {
    store.close()
    await clickhouse?.close()
    throw err
  }
  const deps: Deps = {
    config,
    logger,
    clickhouse,
    store,
    definitions: createDefinitions(store),
    tokens: createTokens(store, config.auth.signingKey),
    wildcards: createWildcards(store),
    batcher: new Batcher<Queued>({
      rowsOf: (queued) => queued.rows.length,
      maxRows: config.ingest.maxBatchRows,
      maxDelayMs: config.ingest.maxBatchDelayMs,
      maxQueuedRows: config.ingest.maxQueuedRows,
      write: measureWriter(clickhouse.client, config.ingest.idempotencyWindowSeconds),
    }),
  }
  const app = createApp(deps)
  const server = http.createServer(app.callback())
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.port, config.host, resolve)
  })
  const { port } = server.address() as AddressInfo
  const host = config.host.includes(':') ? `[${config.host}]` : config.host
  logger.info({ port, host: config.host, clickhouse: clickhouse.mode }, 'listening')

  let closing: Promise<void> | undefined
  return {
    url: `http://${host}:${port}`,
    deps,
    close: () =>
      (closing ??= (async () => {
        const stopped = new Promise((resolve) => server.close(resolve))
        server.closeIdleConnections()
        await deps.batcher.close()
        await stopped
        await clickhouse.close()
        store.close()
        logger.info('stopped')
      })()),
  }
}
