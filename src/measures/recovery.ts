import type { ClickHouse } from '../clickhouse/client.ts'
import type { Logger } from '../logger.ts'
import type { DamagedSegment, RecoveredSegment } from './journal.ts'
import type { IdempotencyKeys } from './keys.ts'
import type { Loader } from './loader.ts'
import { readSegment } from './journal.ts'
import { rowsByToken, stillDeduplicated } from './queries.ts'
import { firstToken } from './quarantine.ts'
import type { JournalRow } from './rows.ts'
import type { StoredMeasure } from './schema.ts'

export type RecoveryOptions = {
  clickhouse: ClickHouse
  cluster: string
  /** Where acknowledged measures are added to answers until loaded (the read cache's pending set). */
  acknowledged(segment: string, measures: StoredMeasure[]): void
  keys: Pick<IdempotencyKeys, 'add'>
  loader: Loader
  /** raw_measures' deduplication window, in blocks (clickhouse/0010). */
  deduplicationWindow: number
  /** How long a start waits for a segment in doubt to load before it answers without it. */
  replayDeadlineMs: number
  logger: Logger
}

/**
 * Makes what the journal holds ready before the server answers anyone (and within seconds,
 * whatever it holds): every acknowledged measure is counted exactly once, and every idempotency
 * key of a whole request is known, whether its segment is waiting, in doubt, damaged or set aside.
 *
 * A segment is in doubt when raw_measures holds rows of its token: its load was in flight when the
 * last run stopped (checked: two at most; the loader loads one at a time while it makes the one
 * before final). It is loaded again at
 * once, under the same token, while the engine still remembers it — ClickHouse completes it,
 * never doubles it. Beyond the deduplication window (this instance was down while the tables took
 * more blocks than the window holds) that is no longer sure: it is set aside for an operator, its
 * raw rows deleted (whether its aggregates were in cannot be known: it is counted as if not).
 * Every other segment is counted from memory and queued.
 */
export async function recoverJournal(
  recovered: RecoveredSegment[],
  damaged: DamagedSegment[],
  options: RecoveryOptions,
): Promise<void> {
  const { clickhouse, loader, keys, acknowledged, logger } = options
  /** A set of rows counted in answers from now on, as acknowledged measures not yet loaded. */
  const count = (name: string, entries: JournalRow[]) =>
    acknowledged(
      name,
      entries.map(({ measure }) => measure),
    )
  const keysOf = (entries: JournalRow[]) =>
    entries.filter((entry) => entry.key !== '').map((entry) => [entry.key, msOf(entry.receivedAt)] as [string, number])

  for (const segment of damaged) {
    logger.error({ segment: segment.name, damage: segment.damage }, 'a journal segment is damaged: set aside')
    keys.add(keysOf(segment.entries))
    await loader.quarantine.setAside(segment, {
      error: `damaged: ${segment.damage}`,
      attempts: 0,
      token: firstToken('segment', segment.name),
      damaged: true,
    })
  }
  // Set aside before (by an earlier run, or just above): counted from memory, as they were.
  for (const entry of loader.quarantine.entries) {
    if (entry.kind !== 'segment') continue
    const entries = readSegment(entry.file)
    keys.add(keysOf(entries))
    if (!entry.inDoubt) count(entry.id, entries)
  }

  const committed = await rowsByToken(
    clickhouse.client,
    recovered.map((segment) => firstToken('segment', segment.name)),
  )
  const inDoubt = recovered.filter((segment) => committed.has(firstToken('segment', segment.name)))
  if (inDoubt.length > 2) {
    logger.warn(
      { segments: inDoubt.map((segment) => segment.name) },
      'more than two journal segments were partly loaded: loads ran out of order (each is completed under its own token)',
    )
  }
  for (const segment of recovered) keys.add(keysOf(segment.entries))
  const replay = []
  for (const segment of inDoubt) {
    const token = firstToken('segment', segment.name)
    if (options.cluster || (await stillDeduplicated(clickhouse.client, token, options.deduplicationWindow))) {
      replay.push(segment)
      continue
    }
    logger.error({ segment: segment.name }, 'a journal segment in doubt is beyond the deduplication window: set aside')
    await loader.quarantine.setAside(segment, {
      error:
        'in doubt beyond the deduplication window: its load may have committed, and the engine no longer remembers it',
      attempts: 0,
      token,
    })
    count(segment.name, segment.entries)
  }
  for (const segment of await loader.replayInDoubt(replay, options.replayDeadlineMs))
    count(segment.name, segment.entries)
  const waiting = recovered.filter((segment) => !committed.has(firstToken('segment', segment.name)))
  for (const segment of waiting) count(segment.name, segment.entries)
  loader.enqueue(waiting)
  if (recovered.length > 0 || damaged.length > 0) {
    logger.info(
      {
        segments: recovered.length,
        measures: recovered.reduce((total, segment) => total + segment.rows, 0),
        inDoubt: inDoubt.length,
        damaged: damaged.length,
      },
      'journal recovered: segments left by the last run are counted and queued',
    )
  }
}

const msOf = (receivedAt: string) => Date.parse(`${receivedAt.replace(' ', 'T')}Z`)
