import type { AddressInfo } from 'node:net'
import http from 'node:http'
import { createApp, type Deps } from './app.ts'
import { openClickHouse, type ClickHouse } from './clickhouse/client.ts'
import { migrate } from './clickhouse/migrate.ts'
import type { Config } from './config.ts'
import { createDefinitions } from './definitions/definitions.ts'
import { mirrorDefinitions, mirrorSource } from './definitions/mirror.ts'
import { createLogger, type Logger } from './logger.ts'
import { Batcher } from './measures/batcher.ts'
import { measureWriter } from './measures/idempotency.ts'
import { withContributorIds, type Queued } from './measures/queries.ts'
import { runLocally, typed } from './ops/operations.ts'
import { serveOperations, socketPath, type OperationsServer } from './ops/socket.ts'
import { createPrivacyKeys } from './privacy/keys.ts'
import { purgeMeasures } from './purge/purge.ts'
import { scheduleRetention } from './purge/retention.ts'
import { storedSecret } from './store/settings.ts'
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
  let clickhouse: ClickHouse | undefined
  let operationsSession: ClickHouse | undefined
  let operations: OperationsServer | undefined
  try {
    clickhouse = await openClickHouse(config)
    // While this process holds the embedded data directory, the CLI's ClickHouse work comes
    // through this socket; opened before migrating, so a CLI started meanwhile finds it. It gets
    // an engine session of its own, as the retention purges do: the embedded engine hands what a
    // query that failed had begun to write to its session's next query, never to be a request's.
    if (clickhouse.mode === 'embedded') {
      operationsSession = await openClickHouse(config)
      const run = runLocally({ client: operationsSession.client, cluster: config.clickhouse.cluster })
      operations = await serveOperations(socketPath(config.dataDir), run, logger)
    }
    await migrate(clickhouse.client, { cluster: config.clickhouse.cluster })
    await mirrorDefinitions(clickhouse.client, mirrorSource(store))
  } catch (err) {
    await operations?.close()
    await operationsSession?.close()
    store.close()
    await clickhouse?.close()
    throw err
  }
  const privacy = createPrivacyKeys(config.privacy.secret || storedSecret(store, 'privacy_secret'))
  const writeMeasures = measureWriter(clickhouse.client, config.ingest.idempotencyWindowSeconds)
  const deps: Deps = {
    config,
    logger,
    clickhouse,
    store,
    definitions: createDefinitions(store),
    tokens: createTokens(store, config.auth.signingKey),
    wildcards: createWildcards(store),
    privacy,
    batcher: new Batcher<Queued>({
      rowsOf: (queued) => queued.rows.length,
      maxRows: config.ingest.maxBatchRows,
      maxDelayMs: config.ingest.maxBatchDelayMs,
      maxQueuedRows: config.ingest.maxQueuedRows,
      // Pseudonyms are hashed as the batch is written: they never reach ClickHouse in clear.
      write: (batch) => writeMeasures(withContributorIds(batch, privacy.contributorId)),
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
  const run = typed(runLocally({ client: (operationsSession ?? clickhouse).client, cluster: config.clickhouse.cluster }))
  const retention =
    config.retention.rawDays > 0
      ? scheduleRetention({
          days: config.retention.rawDays,
          intervalMs: config.retention.intervalMs,
          purge: (before) => purgeMeasures(run, deps.definitions, deps.definitions.list().map((record) => record.definition.name), before),
          logger,
        })
      : undefined

  let closing: Promise<void> | undefined
  return {
    url: `http://${host}:${port}`,
    deps,
    close: () =>
      (closing ??= (async () => {
        const stopped = new Promise((resolve) => server.close(resolve))
        server.closeIdleConnections()
        await retention?.stop()
        await deps.batcher.close()
        await stopped
        await operations?.close()
        await operationsSession?.close()
        await clickhouse.close()
        store.close()
        logger.info('stopped')
      })()),
  }
}
