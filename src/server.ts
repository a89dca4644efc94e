import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type Koa from 'koa'
import { BucketCache } from './aggregates/cache.ts'
import { createApp } from './app.ts'
import { close, listen } from './http/listen.ts'
import { openClickHouse, type ClickHouse } from './clickhouse/client.ts'
import { migrate } from './clickhouse/migrate.ts'
import type { Config } from './config.ts'
import { createDefinitions, type Definitions } from './definitions/definitions.ts'
import { mirrorDefinitions, mirrorSource } from './definitions/mirror.ts'
import { createLogger, type Logger } from './logger.ts'
import { completeRawChunks } from './import/chunks.ts'
import { openIngest, type JournalOperations } from './measures/ingest.ts'
import type { Loader } from './measures/loader.ts'
import { aggregateViewAttached } from './measures/queries.ts'
import { checkEngine } from './measures/selfcheck.ts'
import type { Writer } from './measures/writer.ts'
import { serveMetrics } from './metrics/listener.ts'
import { createMetrics, type Metrics } from './metrics/metrics.ts'
import { CHANGED_MEASURE, runLocally, typed, withJournal, type OperationName, type RunAny } from './ops/operations.ts'
import { serveOperations, socketOf, type OperationsServer } from './ops/socket.ts'
import { createPrivacyKeys } from './privacy/keys.ts'
import { countingPurges, purgeMeasures } from './purge/purge.ts'
import { scheduleRetention } from './purge/retention.ts'
import { serveSql } from './sql/listener.ts'
import { storedSecret } from './store/settings.ts'
import { openStore, privateDirectory, type Store } from './store/store.ts'
import { createTokens, type Tokens } from './tokens/tokens.ts'
import { createWildcards, type Wildcards } from './wildcards/wildcards.ts'

/** What a running server is made of (the tests reach into it). */
export type ServerDeps = {
  clickhouse: ClickHouse
  store: Store
  definitions: Definitions
  tokens: Tokens
  wildcards: Wildcards
  cache: BucketCache
  writer: Writer
  loader: Loader
  metrics: Metrics
}

export type RunningServer = {
  url: string
  /** The metrics listener's GET /metrics, when metrics.port is not 0. */
  metricsUrl: string | undefined
  /** The SQL interface for data engineers (src/sql/), when sql.port is not 0. */
  sqlUrl: string | undefined
  app: Koa
  deps: ServerDeps
  /** Stops accepting, finishes requests in flight, loads what the journal holds (or leaves it for the next start), closes the stores. */
  close(): Promise<void>
  /** Resolves once the server stopped by itself (after `dacc drain`). */
  stopped: Promise<void>
}

/** How long a stop may spend loading the journal into ClickHouse; what is left loads at the next start. */
const DRAIN_MS = 5_000

/** Builds the dependencies, applies the schemas, replays the journal and listens: `dacc serve`, and the tests. */
export async function startServer(
  config: Config,
  logger: Logger = createLogger(config.log.level),
): Promise<RunningServer> {
  // Closed in reverse order when the start fails half-way, or when the server stops.
  const closers: (() => unknown)[] = []
  const closeAll = async () => {
    for (const close of closers.reverse()) await close()
  }
  try {
    // Signing key and privacy secret live in the store: nobody else on the host may read them.
    if (privateDirectory(config.dataDir))
      logger.warn({ dataDir: config.dataDir }, 'the data directory was readable by others: now 0700')
    const store = openStore(config.dataDir)
    closers.push(() => store.close())
    const clickhouse = await openClickHouse(config)
    closers.push(() => clickhouse.close())
    // Counted from the start, read through the metrics listener (below); the writer exists by then.
    const metrics = createMetrics({
      backlog: () => writer.backlog,
      backlogLimit: config.ingest.maxQueuedRows,
      cacheBytes: () => cache.bytes,
    })
    const cache = new BucketCache({
      client: clickhouse.client,
      maxStalenessMs: config.aggregate.maxStalenessMs,
      maxBytes: config.aggregate.cacheMb * 2 ** 20,
      logger,
      metrics: metrics.reads,
    })
    closers.push(() => cache.close())
    // The CLI's way into this server: its ClickHouse work while this process holds the embedded data
    // directory, and in every mode what only this server can do with its journal (`dacc quarantine`,
    // `dacc drain`). Opened before migrating, so a CLI started meanwhile finds it; the journal's
    // operations answer once it is recovered. The CLI's ClickHouse work gets an engine session of
    // its own, as the retention purges do: the embedded engine hands what a query that failed had
    // begun to write to its session's next query, never to be a request's.
    const where = { cluster: config.clickhouse.cluster, journalDir: config.ingest.journalDir }
    let run = countingPurges(runLocally({ ...clickhouse, ...where }), metrics.purges)
    if (clickhouse.mode === 'embedded') {
      const session = await openClickHouse(config)
      closers.push(() => session.close())
      run = countingPurges(forgettingChanges(runLocally({ ...session, ...where }), cache), metrics.purges)
    }
    let journalOperations: JournalOperations | undefined
    const operate = withJournal(run, () => journalOperations)
    // Embedded, the engine's lock is held: the socket can open now. On a server, once the journal's is.
    const serve = async () => {
      const operations: OperationsServer = await serveOperations(socketOf(config), operate, logger)
      closers.push(() => operations.close())
    }
    if (clickhouse.mode === 'embedded') await serve()
    await migrate(clickhouse.client, { cluster: config.clickhouse.cluster })
    await checkEngine(clickhouse, config.clickhouse.cluster)
    await mirrorDefinitions(clickhouse.client, mirrorSource(store))
    // Chunks of an import-original killed mid-insert: completed before any other insert (src/import/chunks.ts).
    const chunks = await completeRawChunks(clickhouse, config.ingest.journalDir, config.clickhouse.cluster, logger)
    if (chunks.completed > 0) logger.info(chunks, 'completed the raw chunks of an interrupted import-original')

    const privacy = createPrivacyKeys(config.privacy.secret || storedSecret(store, 'privacy_secret'))
    const ingest = await openIngest({
      config,
      clickhouse,
      cache,
      contributorId: privacy.contributorId,
      logger,
      metrics,
    })
    const { writer, loader } = ingest
    journalOperations = ingest.operations
    if (clickhouse.mode === 'server') await serve()
    // Stopping: refuse new writes, load what the journal holds (within DRAIN_MS), close the files.
    closers.push(() => ingest.close(DRAIN_MS))

    const deps: ServerDeps = {
      clickhouse,
      store,
      definitions: createDefinitions(store),
      tokens: createTokens(store, config.auth.signingKey),
      wildcards: createWildcards(store),
      cache,
      writer,
      loader,
      metrics,
    }
    const app = createApp({
      ...deps,
      config,
      logger,
      privacy,
      status: {
        clickhouse: {
          // It answers, and the aggregate view is attached (detached, loads would skip the aggregates).
          ping: async () => {
            if (!(await aggregateViewAttached(clickhouse.client)))
              throw new Error('the materialized view aggregates_mv is detached: loads would skip the aggregates')
          },
          version: clickhouse.version,
        },
        sqlite: { ping: () => store.db.prepare('SELECT 1').get() },
        writes: ingest.health,
      },
    })
    let stopping = false
    // Once stopping, every answer closes its connection, those of requests already being answered
    // included (their headers are written later): keep-alive clients go to another instance.
    class Response extends http.ServerResponse {
      override writeHead(...args: [number, ...unknown[]]): this {
        if (stopping) this.setHeader('Connection', 'close')
        return super.writeHead(...(args as Parameters<http.ServerResponse['writeHead']>))
      }
    }
    const server = http.createServer({ ServerResponse: Response }, app.callback())
    await listen(server, config.host, config.port)
    closers.push(() => {
      stopping = true
      return close(server)
    })
    const { port } = server.address() as AddressInfo
    const host = config.host.includes(':') ? `[${config.host}]` : config.host
    let metricsUrl: string | undefined
    if (config.metrics.port !== 0) {
      const listener = await serveMetrics(metrics.registry, config.metrics, logger)
      closers.push(() => listener.close())
      metricsUrl = listener.url
    }
    let sqlUrl: string | undefined
    if (config.sql.port !== 0) {
      const sql = await serveSql(config, deps.tokens, logger)
      closers.push(() => sql.close())
      sqlUrl = sql.url
    }
    logger.info(
      { port, host: config.host, clickhouse: clickhouse.mode, metrics: metricsUrl ?? 'off', sql: sqlUrl ?? 'off' },
      'listening',
    )

    if (config.retention.rawDays > 0) {
      const purge = typed(run)
      const retention = scheduleRetention({
        days: config.retention.rawDays,
        intervalMs: config.retention.intervalMs,
        purge: (before) =>
          purgeMeasures(
            purge,
            deps.definitions,
            deps.definitions.list().map((record) => record.definition.name),
            before,
          ),
        logger,
        metrics: metrics.purges,
      })
      closers.push(() => retention.stop())
    }

    let closing: Promise<void> | undefined
    const stop = () =>
      (closing ??= closeAll().then(() => {
        logger.info('stopped')
      }))
    // `dacc drain`: once the journal is loaded, the server stops by itself.
    ingest.drained.then(stop, () => undefined)
    return {
      url: `http://${host}:${port}`,
      metricsUrl,
      sqlUrl,
      app,
      deps,
      close: stop,
      stopped: ingest.drained.then(() => closing),
    }
  } catch (err) {
    await closeAll()
    throw err
  }
}

/**
 * Operations run for the CLI, with the cache told when one changed a measure's aggregates other
 * than by loading measures (a purge of its data, an import): failed too, as it may have written part.
 */
function forgettingChanges(run: RunAny, cache: BucketCache): RunAny {
  return async (name, args) => {
    try {
      return await run(name, args)
    } finally {
      const changed = CHANGED_MEASURE[name as OperationName]
      if (changed) cache.forget(changed(args))
    }
  }
}
