import type { ClickHouse } from '../clickhouse/client.ts'
import { firstLine } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics/metrics.ts'
import type { Crash } from './faults.ts'
import type { Journal, Segment } from './journal.ts'
import { detachAggregateView, insertSegment } from './queries.ts'
import type { Writer } from './writer.ts'

export type LoaderOptions = {
  clickhouse: ClickHouse
  journal: Journal
  writer: Writer
  /** The read cache's lock and fold: a load and a read of ClickHouse never overlap (src/aggregates/cache.ts). */
  cache: { exclusive<T>(fn: () => Promise<T>): Promise<T>; loaded(segment: string): void }
  /** How long the first row of a segment waits for more before the segment is loaded (ms); see PAUSE. */
  maxDelayMs: number
  /** A segment is loaded as soon as it holds this many rows. */
  maxSegmentRows: number
  crash: Crash
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

/**
 * Moves the journal into ClickHouse, one segment at a time, in order: one INSERT per segment
 * whose deduplication token is the segment's name, then the segment's rows move from the read
 * cache's pending set into its cells, then the file is removed. A failed load is retried (with
 * backoff) with the same token, so whatever part of it ClickHouse had kept (the raw rows without
 * the aggregates, say) is completed, never doubled. While a load runs, the next segment fills.
 */
export class Loader {
  #options: LoaderOptions
  #wake: (() => void) | undefined
  #failure: { message: string; since: number } | undefined
  #busySince: number | undefined
  #stopping = false
  #running: Promise<void> | undefined

  constructor(options: LoaderOptions) {
    this.#options = options
  }

  /** Why loading fails, while it does (since when, ms). */
  get failure(): { message: string; since: number } | undefined {
    return this.#failure
  }

  /** When the load attempt in progress started (ms), if one is. */
  get busySince(): number | undefined {
    return this.#busySince
  }

  /** Loads segments left by an earlier run, before the server answers anyone (nothing of them is in the read cache). */
  async replay(segments: Segment[]): Promise<void> {
    for (const segment of segments) {
      this.#options.logger.info(
        { segment: segment.name, rows: segment.rows },
        'loading a journal segment left by the last run',
      )
      await insertSegment(this.#options.clickhouse, segment)
      await this.#options.journal.remove(segment)
    }
  }

  start(): void {
    this.#running ??= this.#run()
  }

  /** Something was appended: wakes the loader if it waits. */
  wake = (): void => {
    this.#wake?.()
  }

  /** Loads what is left (within `deadlineMs`, else it stays in the journal for the next start) and stops. */
  async stop(deadlineMs: number): Promise<void> {
    this.#stopping = true
    this.wake()
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.#running, new Promise((resolve) => (timer = setTimeout(resolve, deadlineMs)))])
    clearTimeout(timer)
  }

  async #run(): Promise<void> {
    for (;;) {
      const segment = await this.#next()
      if (!segment) return
      if (!(await this.#load(segment))) return
    }
  }

  /** The next segment to load: a sealed one, else the open one once its delay is over; undefined when stopping with nothing left. */
  async #next(): Promise<Segment | undefined> {
    const { writer, maxDelayMs, maxSegmentRows } = this.#options
    for (;;) {
      const sealed = writer.takeSealed()
      if (sealed) return sealed
      const open = writer.open
      if (open.rows > 0) {
        const now = Date.now()
        const due = open.since + maxDelayMs - now
        const paused = open.rows >= PAUSE.rows ? open.last + PAUSE.ms - now : due
        if (due <= 0 || paused <= 0 || open.rows >= maxSegmentRows || this.#stopping) {
          const segment = await writer.seal()
          if (segment) return segment
          continue
        }
        await this.#sleep(Math.min(due, paused))
      } else {
        if (this.#stopping) return undefined
        await this.#sleep()
      }
    }
  }

  /** Loads a segment, retrying until it is in and removed; false when stopped first. */
  async #load(segment: Segment): Promise<boolean> {
    const { clickhouse, journal, writer, cache, crash, metrics } = this.#options
    const inserted = await this.#retry(segment, async () => {
      crash.at('before-load')
      await cache.exclusive(async () => {
        if (crash.point === 'between-raw-and-aggregates') await detachAggregateView(clickhouse)
        const started = performance.now()
        await insertSegment(clickhouse, segment)
        metrics.seconds.observe((performance.now() - started) / 1000)
        crash.at('between-raw-and-aggregates')
        cache.loaded(segment.name)
      })
      crash.at('after-load')
    })
    // Until the file is gone it would be loaded again at the next start: no other segment is
    // loaded meanwhile, so that ClickHouse's deduplication window keeps covering it.
    if (!inserted || !(await this.#retry(segment, () => journal.remove(segment)))) return false
    metrics.measures.observe(segment.rows)
    writer.loaded(segment)
    return true
  }

  async #retry(segment: Segment, attempt: () => Promise<void>): Promise<boolean> {
    for (let delay = RETRY_MS.first; ; delay = Math.min(delay * 2, RETRY_MS.max)) {
      try {
        this.#busySince = Date.now()
        await attempt()
        this.#failure = undefined
        return true
      } catch (err) {
        this.#options.metrics.failures.inc()
        this.#failure = { message: firstLine(err), since: this.#failure?.since ?? Date.now() }
        this.#options.logger.error(
          { err, segment: segment.name },
          'loading a journal segment into ClickHouse failed; retrying',
        )
        if (this.#stopping) return false
        await this.#sleep(delay)
      } finally {
        this.#busySince = undefined
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
