import type { ClickHouse } from '../clickhouse/client.ts'
import { firstLine } from '../errors.ts'
import { loadChunk } from '../import/chunks.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics/metrics.ts'
import { classify, outcomeUnknown } from './classify.ts'
import type { Crash, LoadFault } from './faults.ts'
import type { Journal, Segment } from './journal.ts'
import { deleteRawRows, detachAggregateView, loadFile, syncDeduplicationLogs, type LoadFile } from './queries.ts'
import { firstToken, Quarantine, type QuarantineEntry } from './quarantine.ts'
import { COLUMNS } from './rows.ts'
import type { Writer } from './writer.ts'

export type LoaderOptions = {
  clickhouse: ClickHouse
  cluster: string
  journal: Journal
  writer: Writer
  /** The read cache's lock and fold: a load and a read of ClickHouse never overlap (src/aggregates/cache.ts). */
  cache: {
    exclusive<T>(fn: () => Promise<T>): Promise<T>
    loaded(segment: string): void
    discard(segment: string): void
    forget(measure?: string): void
  }
  /** How long the first row of a segment waits for more before the segment is loaded (ms); see PAUSE. */
  maxDelayMs: number
  /** A segment is loaded as soon as it holds this many rows. */
  maxSegmentRows: number
  /** Attempts of a segment failing with an error not known to be transient, before it is set aside. */
  maxAttempts: number
  crash: Crash
  fault: LoadFault
  logger: Logger
  metrics: Metrics['loads']
}

const RETRY_MS = { first: 100, max: 5000 }
/**
 * The end of a burst: a segment this big is worth its INSERT at once, so it is loaded as soon as
 * appends pause this long, not after its whole delay. A trickle of single measures still gathers
 * for maxDelayMs (an INSERT per few rows would cost more CPU than the rows).
 */
const PAUSE = { rows: 1_000, ms: 50 }
/** How long an operator's retry of a set-aside segment waits out transient errors before it answers. */
const RETRY_DEADLINE_MS = 30_000

/** What loading one segment came to. */
type Outcome = 'loaded' | 'set-aside' | 'stopped'

/** The file of a load: a journal segment's framed rows, or an import chunk. */
const segmentFile = (path: string, token: string): LoadFile => ({
  path,
  format: 'TabSeparated',
  columns: COLUMNS,
  token,
  where: "measure_name != ''", // the frames' markers (frames.ts)
})

/**
 * Moves the journal into ClickHouse, one segment at a time, in order: one INSERT per segment
 * whose deduplication token names the segment, then the segment's rows move from the read cache's
 * pending set into its cells, then the file is removed. While a load runs, the next segment fills.
 *
 * No segment can stall the others: a failure is classified (classify.ts). Transient ones (the
 * engine away, a full disk) are retried with backoff and the same token, so whatever part of the
 * segment ClickHouse had kept is completed, never doubled. A segment the engine refuses for good,
 * or that fails `maxAttempts` times otherwise, is set aside into the quarantine (quarantine.ts)
 * with no trace left in ClickHouse, and loading goes on: its measures stay acknowledged, durable
 * and counted from memory until an operator retries or discards it (`dacc quarantine`), which
 * runs here, between two loads.
 *
 * Invariant, checked at start (recovery.ts): two loads at most are in doubt (may have committed
 * without this process knowing): the one in flight, and the one before it being made final.
 */
export class Loader {
  #options: LoaderOptions
  /** Segments to load before the writer's sealed ones: those found at start. */
  #queue: Segment[] = []
  /** Operators' requests, run between two loads. */
  #requests: (() => Promise<void>)[] = []
  readonly quarantine: Quarantine
  #unresolved = new Map<string, Segment>()
  #wake: (() => void) | undefined
  #failure: { message: string; since: number; transient: boolean } | undefined
  #busySince: number | undefined
  #stopping = false
  #draining = false
  #running: Promise<void> | undefined
  /** The last loaded segment being made final (#confirm), if any. */
  #confirming: Promise<void> = Promise.resolve()

  constructor(options: LoaderOptions) {
    this.#options = options
    this.quarantine = new Quarantine({
      journalDir: options.journal.dir,
      deleteRows: (token) => deleteRawRows(options.clickhouse.client, token, options.cluster),
      logger: options.logger,
      metrics: options.metrics,
    })
  }

  /** Why loading fails, while it does (since when, ms), and whether the error is one that heals. */
  get failure(): { message: string; since: number; transient: boolean } | undefined {
    return this.#failure
  }

  /** When the load attempt in progress started (ms), if one is. */
  get busySince(): number | undefined {
    return this.#busySince
  }

  /** Segments found at start, loaded first, in order. */
  enqueue(segments: Segment[]): void {
    for (const segment of segments) this.#options.writer.adopt(segment)
    this.#queue.push(...segments)
    this.wake()
  }

  start(): void {
    this.#running ??= this.#run()
  }

  /** Something was appended, or asked for: wakes the loader if it waits. */
  wake = (): void => {
    this.#wake?.()
  }

  /** Loads everything the journal holds, however long transient failures last, then stops (`dacc drain`). */
  async drain(): Promise<void> {
    this.#draining = true
    this.wake()
    await this.#running
  }

  /** Loads what is left (within `deadlineMs`, else it stays in the journal for the next start) and stops. */
  async stop(deadlineMs: number): Promise<void> {
    this.#stopping = true
    this.wake()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.#running, new Promise((resolve) => (timer = setTimeout(resolve, deadlineMs)))])
    clearTimeout(timer)
  }

  /**
   * Loads segments left by an earlier run whose load may have committed (recovery.ts), before the
   * server answers anyone, with their own token: ClickHouse completes what it had, never doubles
   * it. Those refused go to the quarantine, as any load would (returned: counted from then on,
   * the engine having refused them). One that still fails transiently
   * after `deadlineMs` is loaded first once the loader runs; until then answers leave it out (its
   * aggregates may or may not be in ClickHouse already) and /status says so.
   */
  async replayInDoubt<S extends Segment>(segments: S[], deadlineMs: number): Promise<S[]> {
    const setAside: S[] = []
    for (const segment of segments) {
      this.#options.writer.adopt(segment)
      const outcome = await this.#load(segment, Date.now() + deadlineMs)
      if (outcome === 'set-aside') setAside.push(segment)
      if (outcome !== 'stopped') continue
      this.#unresolved.set(segment.name, segment)
      this.#queue.push(segment)
    }
    return setAside
  }

  /** Segments in doubt that answers leave out until they load (see replayInDoubt). */
  get unresolved(): Segment[] {
    return [...this.#unresolved.values()]
  }

  /** Retries set-aside entries (all when `ids` is empty), between two loads; what each came to. */
  retry(ids: string[]): Promise<{ id: string; rows: number; error?: string }[]> {
    return this.#request(async () => {
      const results = []
      for (const entry of this.quarantine.named(ids)) results.push(await this.#retryEntry(entry))
      return results
    })
  }

  /** Discards a set-aside entry for good, between two loads: its measures leave ClickHouse (if any were there) and the answers. */
  discard(id: string): Promise<QuarantineEntry> {
    return this.#request(async () => {
      const entry = await this.quarantine.discard(id)
      if (entry.kind === 'segment') this.#options.cache.discard(entry.id)
      return entry
    })
  }

  async #run(): Promise<void> {
    try {
      for (;;) {
        const request = this.#requests.shift()
        if (request) {
          await this.#confirming
          await request()
          continue
        }
        const segment = await this.#next()
        if (segment === 'request') continue
        if (!segment || (await this.#load(segment)) === 'stopped') return
      }
    } finally {
      await this.#confirming
    }
  }

  /** The next segment to load: one found at start, a sealed one, else the open one once its delay is over; undefined when stopping with nothing left. */
  async #next(): Promise<Segment | 'request' | undefined> {
    const { writer, maxDelayMs, maxSegmentRows } = this.#options
    for (;;) {
      if (this.#requests.length > 0) return 'request'
      const sealed = this.#queue.shift() ?? writer.takeSealed()
      if (sealed) return sealed
      const open = writer.open
      if (open.rows > 0) {
        const now = Date.now()
        const due = open.since + maxDelayMs - now
        const paused = open.rows >= PAUSE.rows ? open.last + PAUSE.ms - now : due
        if (due <= 0 || paused <= 0 || open.rows >= maxSegmentRows || this.#stopping || this.#draining) {
          const segment = await writer.seal()
          if (segment) return segment
          continue
        }
        await this.#sleep(Math.min(due, paused))
      } else {
        if (this.#stopping || this.#draining) return undefined
        await this.#sleep()
      }
    }
  }

  /** Loads a segment, retrying transient failures, until it is in ClickHouse and out of the journal, or set aside. */
  async #load(segment: Segment, deadline = Number.POSITIVE_INFINITY): Promise<Outcome> {
    const token = firstToken('segment', segment.name)
    const failed = await this.#attempts(segment, token, { maxAttempts: this.#options.maxAttempts, deadline })
    this.#unresolved.delete(segment.name)
    if (failed === 'stopped') return 'stopped'
    if (failed) {
      await this.quarantine.setAside(segment, { error: firstLine(failed.err), attempts: failed.attempts, token })
      this.#options.writer.setAside(segment)
      this.#options.logger.error(
        { segment: segment.name, rows: segment.rows, attempts: failed.attempts, err: failed.err },
        'a journal segment was set aside: ClickHouse refuses it (dacc quarantine list)',
      )
      return 'set-aside'
    }
    // Made final while the next segment loads: its fsyncs take as long as an INSERT under load.
    // At most one is in flight, and a segment leaves the journal only once its own record is on
    // disk, so two segments at most can be in doubt after a crash, each replayed under its token.
    const previous = this.#confirming
    this.#confirming = previous.then(async () => {
      if (!(await this.#retryUntil(segment, () => this.#confirm(segment)))) return
      this.#options.metrics.measures.observe(segment.rows)
      this.#options.writer.loaded(segment)
    })
    await previous
    return 'loaded'
  }

  /**
   * Attempts a load until it succeeds (undefined), fails for good (the last error), or the loader
   * stops. Each attempt holds the cache's lock (reads of ClickHouse wait). Once an attempt's
   * outcome is unknown (its answer lost: it may have committed), the lock stays held across the
   * retries that follow, until one succeeds: a read of ClickHouse meanwhile could see the segment
   * while its rows are still pending, and count them twice.
   */
  async #attempts(
    segment: Segment,
    token: string,
    { maxAttempts, deadline = Number.POSITIVE_INFINITY }: { maxAttempts: number; deadline?: number },
  ): Promise<{ err: unknown; attempts: number } | 'stopped' | undefined> {
    const { metrics, logger } = this.#options
    let held: (() => void) | undefined
    try {
      for (let attempts = 1, delay = RETRY_MS.first; ; attempts++, delay = Math.min(delay * 2, RETRY_MS.max)) {
        const release = held ?? (await this.#lease())
        try {
          this.#busySince = Date.now()
          await this.#insertAndFold(segment, token)
          this.#failure = undefined
          return undefined
        } catch (err) {
          const kind = classify(err)
          metrics.failures.inc({ class: kind })
          const since = this.#failure?.since ?? Date.now()
          this.#failure = { message: firstLine(err), since, transient: kind === 'transient' }
          logger.error(
            { err, segment: segment.name, class: kind, attempts },
            'loading a journal segment into ClickHouse failed',
          )
          if (kind === 'permanent' || (kind === 'unknown' && attempts >= maxAttempts)) {
            this.#failure = undefined
            return { err, attempts }
          }
          if (this.#stopping || Date.now() + delay > deadline) return 'stopped'
          if (outcomeUnknown(err)) held = release
        } finally {
          this.#busySince = undefined
          if (release !== held) release()
        }
        await this.#sleep(delay)
      }
    } finally {
      held?.()
    }
  }

  /** The cache's lock, held until the returned function is called. */
  #lease(): Promise<() => void> {
    return new Promise((leased) => {
      this.#options.cache.exclusive(() => new Promise<void>((release) => leased(release)))
    })
  }

  async #insertAndFold(segment: Segment, token: string): Promise<void> {
    const { clickhouse, crash, fault, cache, metrics } = this.#options
    crash.at('before-load')
    if (crash.point === 'between-raw-and-aggregates') await detachAggregateView(clickhouse)
    const started = performance.now()
    await loadFile(clickhouse, segmentFile(segment.path, token))
    metrics.seconds.observe((performance.now() - started) / 1000)
    crash.at('between-raw-and-aggregates')
    fault.afterInsert()
    cache.loaded(segment.name)
  }

  /**
   * Makes a load final: the engine's record of it on disk (embedded: see syncDeduplicationLogs),
   * the idempotency keys of its requests on disk (they outlive the segment: keys.ts), then the
   * segment's file removed. The removal itself is not flushed: a file a power cut brings back is
   * loaded again at the next start, and the record, on disk, drops it.
   */
  async #confirm(segment: Segment): Promise<void> {
    const { clickhouse, writer, journal, crash } = this.#options
    if (clickhouse.mode === 'embedded') await syncDeduplicationLogs(clickhouse.client, ['raw_measures', 'aggregates'])
    crash.at('after-load')
    writer.syncKeys()
    await journal.remove(segment)
  }

  /** A retry of a set-aside entry, as an operator asked. */
  async #retryEntry(entry: QuarantineEntry): Promise<{ id: string; rows: number; error?: string }> {
    const { clickhouse, cache } = this.#options
    const token = await this.quarantine.retrying(entry)
    const segment = { name: entry.id, path: entry.file, rows: entry.rows }
    const failed =
      entry.kind === 'segment'
        ? await this.#attempts(segment, token, { maxAttempts: 1, deadline: Date.now() + RETRY_DEADLINE_MS })
        : await loadChunk(clickhouse, entry.file, token).then(
            () => undefined,
            (err: unknown) => ({ err, attempts: 1 }),
          )
    if (failed === 'stopped') {
      const why = `retried for ${RETRY_DEADLINE_MS / 1000} s without an answer: ${this.#failure?.message}`
      this.quarantine.unanswered(entry, why)
      return { id: entry.id, rows: entry.rows, error: why }
    }
    if (failed) {
      await this.quarantine.refused(entry, failed.err)
      return { id: entry.id, rows: entry.rows, error: entry.error }
    }
    if (clickhouse.mode === 'embedded') await syncDeduplicationLogs(clickhouse.client, ['raw_measures', 'aggregates'])
    this.quarantine.loaded(entry)
    if (entry.kind === 'import-chunk') for (const measure of Object.keys(entry.measures)) cache.forget(measure)
    return { id: entry.id, rows: entry.rows }
  }

  #request<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#requests.push(() => fn().then(resolve, reject))
      this.wake()
    })
  }

  /** Runs `attempt` until it succeeds; false when stopped first. */
  async #retryUntil(segment: Segment, attempt: () => Promise<void>): Promise<boolean> {
    for (let delay = RETRY_MS.first; ; delay = Math.min(delay * 2, RETRY_MS.max)) {
      try {
        await attempt()
        return true
      } catch (err) {
        this.#options.logger.error({ err, segment: segment.name }, 'removing a loaded journal segment failed; retrying')
        if (this.#stopping) return false
        await this.#sleep(delay)
      }
    }
  }

  /** Waits `ms` (forever without), or until woken. */
  #sleep(ms?: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.#wake = () => {
        this.#wake = undefined
        done()
      }
    })
  }
}
