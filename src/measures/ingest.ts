import type { BucketCache } from '../aggregates/cache.ts'
import type { ClickHouse } from '../clickhouse/client.ts'
import type { Config } from '../config.ts'
import { unavailable } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics/metrics.ts'
import type { Check } from '../status/routes.ts'
import { crashHook, loadFault } from './faults.ts'
import { writeHealth } from './health.ts'
import { Journal, readSegment } from './journal.ts'
import { IdempotencyKeys } from './keys.ts'
import { Loader } from './loader.ts'
import { recentIdempotencyKeys } from './queries.ts'
import type { QuarantineEntry } from './quarantine.ts'
import { recoverJournal } from './recovery.ts'
import { DEDUPLICATION_WINDOW } from './selfcheck.ts'
import { Writer } from './writer.ts'

export type IngestOptions = {
  config: Config
  clickhouse: ClickHouse
  cache: BucketCache
  contributorId(pseudonym: string): string
  logger: Logger
  metrics: Metrics
}

/** What operators ask a running server about its journal (`dacc quarantine`, `dacc drain`), over its socket. */
export type JournalOperations = {
  quarantineList(): Promise<QuarantineEntry[]>
  quarantineRetry(args: { ids: string[] }): Promise<{ id: string; rows: number; error?: string }[]>
  quarantineDiscard(args: { id: string }): Promise<QuarantineEntry>
  drain(): Promise<{ loaded: number; setAside: number }>
}

export type Ingest = {
  writer: Writer
  loader: Loader
  health(): Check
  operations: JournalOperations
  /** Resolves once `dacc drain` emptied the journal: the server then stops. */
  drained: Promise<void>
  /** In order: refuse new writes, load what the journal holds (within `deadlineMs`), close the files. */
  close(deadlineMs: number): Promise<void>
}

/** How long a start waits for a segment in doubt to load before it answers without it. */
const REPLAY_DEADLINE_MS = 5_000
/** A load still running after this long is stuck (a segment loads in well under a second). */
const LOAD_STALL_MS = 30_000

/**
 * The write path of one server: the journal (the acknowledgement point), the idempotency index
 * beside it, the writer in front, the loader behind, and what the last run left in it recovered
 * before anyone is answered (recovery.ts). src/measures/ holds each part; this wires them.
 */
export async function openIngest({
  config,
  clickhouse,
  cache,
  contributorId,
  logger,
  metrics,
}: IngestOptions): Promise<Ingest> {
  const { ingest } = config
  const keys = IdempotencyKeys.open(ingest.journalDir, ingest.idempotencyWindowSeconds)
  try {
    const { journal, recovered, damaged } = Journal.open(ingest.journalDir, { fsync: ingest.fsync })
    // For a journal new to a store that has measures: the keys an older version kept in raw_measures only.
    if (keys.created) keys.add(await recentIdempotencyKeys(clickhouse.client, ingest.idempotencyWindowSeconds))
    const crash = crashHook(process.env.DACC_TEST_CRASH_AT) // tests only: faults.ts
    const writer: Writer = new Writer({
      journal,
      keys,
      maxSegmentRows: ingest.maxBatchRows,
      maxBacklogRows: ingest.maxQueuedRows,
      contributorId,
      acknowledged: (segment, measures) => cache.acknowledged(segment, measures),
      wake: () => loader.wake(),
      crash,
      logger,
      metrics: metrics.writes,
    })
    const loader: Loader = new Loader({
      clickhouse,
      cluster: config.clickhouse.cluster,
      journal,
      writer,
      cache,
      maxDelayMs: ingest.maxBatchDelayMs,
      maxSegmentRows: ingest.maxBatchRows,
      maxAttempts: ingest.loadAttempts,
      crash,
      fault: loadFault(process.env.DACC_TEST_LOAD_FAULT),
      logger,
      metrics: metrics.loads,
    })
    await recoverJournal(recovered, damaged, {
      clickhouse,
      cluster: config.clickhouse.cluster,
      acknowledged: (segment, measures) => cache.acknowledged(segment, measures),
      keys,
      loader,
      deduplicationWindow: DEDUPLICATION_WINDOW,
      replayDeadlineMs: REPLAY_DEADLINE_MS,
      logger,
    })
    loader.start()
    // An operator's retry that was in flight when the last run stopped: replayed under its token
    // first thing (left out of answers until then: it may have committed). Refused again, it is
    // counted from memory as any set-aside segment.
    const retried = loader.quarantine.entries.filter((entry) => entry.inDoubt && entry.kind === 'segment')
    if (retried.length > 0)
      loader.retry(retried.map((entry) => entry.id)).then(
        () => {
          for (const entry of retried)
            if (!entry.inDoubt && loader.quarantine.entries.includes(entry))
              cache.acknowledged(
                entry.id,
                readSegment(entry.file).map(({ measure }) => measure),
              )
        },
        (err) => logger.error({ err }, 'replaying a retry left in doubt failed'),
      )
    // Expired keys go on a schedule, so that the index stays the size of one window.
    const pruning = setInterval(
      () => {
        try {
          keys.prune()
        } catch (err) {
          logger.warn({ err }, 'pruning the idempotency keys failed')
        }
      },
      Math.min(ingest.idempotencyWindowSeconds * 1000, 3_600_000) / 4,
    ).unref()

    let draining = false
    let drainedNow: () => void = () => undefined
    const drained = new Promise<void>((resolve) => (drainedNow = resolve))
    const health = () => {
      if (draining) return { status: 'ko' as const, error: `draining: ${writer.backlog} measures left to load` }
      return writeHealth(writer, loader, { appendStallMs: ingest.appendStallMs, loadStallMs: LOAD_STALL_MS })
    }
    const operations: JournalOperations = {
      quarantineList: async () => loader.quarantine.entries,
      quarantineRetry: ({ ids }) => loader.retry(ids),
      quarantineDiscard: ({ id }) => loader.discard(id),
      drain: async () => {
        const before = writer.backlog
        draining = true
        await writer.close(unavailable('This instance is draining: send measures to another one'))
        await loader.drain() // it seals the open segment itself
        const setAside = loader.quarantine.entries.length
        drainedNow()
        return { loaded: before - writer.backlog, setAside }
      },
    }
    return {
      writer,
      loader,
      health,
      operations,
      drained,
      close: async (deadlineMs) => {
        clearInterval(pruning)
        await writer.close()
        await loader.stop(deadlineMs) // it seals the open segment itself
        await journal.close()
        keys.close()
      },
    }
  } catch (err) {
    keys.close()
    throw err
  }
}
