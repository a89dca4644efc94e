import { HttpError, firstLine, unavailable } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics/metrics.ts'
import type { Crash } from './faults.ts'
import type { Journal, Segment } from './journal.ts'
import type { IdempotencyKeys } from './keys.ts'
import { journalLine, receivedAtOf } from './rows.ts'
import type { Measure, StoredMeasure } from './schema.ts'

export type WriterOptions = {
  journal: Journal
  keys: IdempotencyKeys
  /** A segment is sealed for loading once it holds this many rows. */
  maxSegmentRows: number
  /** Rows acknowledged (or being written) but not yet in ClickHouse, at most: past that, 503. */
  maxBacklogRows: number
  /** The keyed hash stored for a contributor pseudonym. */
  contributorId(pseudonym: string): string
  /** The rows of a journal segment, just acknowledged (the read cache adds them to answers). */
  acknowledged(segment: string, measures: StoredMeasure[]): void
  /** Called when there is something new for the loader. */
  wake(): void
  crash: Crash
  logger: Logger
  metrics: Metrics['writes']
}

export class QueueFull extends HttpError {
  constructor() {
    super(503, 'The service is busy, retry later', { headers: { 'Retry-After': '1' } })
  }
}

type Request = { measures: Measure[]; key: string; resolve(): void; reject(err: unknown): void }

/**
 * The write path up to the acknowledgement: requests from concurrent producers gather into one
 * group, written to the journal with one append (and one fsync); they are answered once it is
 * durable, and while it is written the next group gathers (group commit). An Idempotency-Key
 * already acknowledged within the window, or being written, is answered with its first request's
 * outcome without writing anything. ClickHouse is not on this path: the loader
 * (src/measures/loader.ts) takes the sealed segments.
 */
export class Writer {
  #options: WriterOptions
  #queue: Request[] = []
  #committing = false
  /** The journal's operations (appends, seals), one at a time in order. */
  #chain: Promise<unknown> = Promise.resolve()
  #inFlight = new Map<string, Promise<void>>()
  /** Keys acknowledged whose write to the index failed: looked up here, written with the next ones. */
  #unrecorded = new Map<string, number>()
  #sealed: Segment[] = []
  #openSince = 0
  #lastAppend = 0
  #backlog = 0
  #appendingSince: number | undefined
  #failure: string | undefined
  #closed: Error | undefined

  constructor(options: WriterOptions) {
    this.#options = options
  }

  /** Rows accepted and not yet in ClickHouse (being written, or in the journal). */
  get backlog(): number {
    return this.#backlog
  }

  /** Why the last append failed, while no append has succeeded since. */
  get failure(): string | undefined {
    return this.#failure
  }

  /** When (ms) the append in progress started, if one is: a stuck disk shows here. */
  get appendingSince(): number | undefined {
    return this.#appendingSince
  }

  /** Rows in the open segment, since when (ms) it has any, and when (ms) rows were last appended. */
  get open(): { rows: number; since: number; last: number } {
    return { rows: this.#options.journal.open?.rows ?? 0, since: this.#openSince, last: this.#lastAppend }
  }

  /**
   * Resolves once `measures` are durable in the journal (or, for a retry of `key`, once its first
   * request's are); rejects with a 503 when they could not be written, or the backlog is full.
   */
  write(measures: Measure[], key: string): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closed)
    if (key) {
      const { deduplicated } = this.#options.metrics
      const inFlight = this.#inFlight.get(key)
      if (inFlight) return inFlight.then(() => deduplicated.inc(measures.length))
      if (this.#unrecorded.has(key) || this.#options.keys.has(key)) {
        deduplicated.inc(measures.length)
        return Promise.resolve()
      }
    }
    if (this.#backlog + measures.length > this.#options.maxBacklogRows && this.#backlog > 0)
      return Promise.reject(new QueueFull())
    this.#backlog += measures.length
    const done = new Promise<void>((resolve, reject) => this.#queue.push({ measures, key, resolve, reject }))
    if (key) {
      this.#inFlight.set(key, done)
      done.then(
        () => this.#inFlight.delete(key),
        () => this.#inFlight.delete(key),
      )
    }
    this.#pump()
    return done
  }

  /** The oldest sealed segment, taken for loading. */
  takeSealed(): Segment | undefined {
    return this.#sealed.shift()
  }

  /** Seals the open segment (after the appends in flight) and returns it; undefined when empty. */
  seal(): Promise<Segment | undefined> {
    return this.#run(() => this.#options.journal.seal())
  }

  /** A segment is in ClickHouse: its rows leave the backlog. */
  loaded(segment: Segment): void {
    this.#backlog -= segment.rows
  }

  /**
   * Puts every key acknowledged so far on disk (the loader calls it before a segment leaves the
   * journal: from then on the index alone remembers that segment's keys).
   */
  syncKeys(): void {
    if (this.#unrecorded.size > 0) {
      this.#options.keys.add(this.#unrecorded)
      this.#unrecorded.clear()
    }
    this.#options.keys.sync()
  }

  /** A segment left by the last run, queued for loading: its rows are acknowledged and not loaded, as any. */
  adopt(segment: Segment): void {
    this.#backlog += segment.rows
  }

  /** A segment was set aside (quarantine): its rows leave the backlog, so that writes go on. */
  setAside(segment: Segment): void {
    this.#backlog -= segment.rows
  }

  /** Refuses new writes (with `refusal`) and waits for those in flight. */
  async close(refusal: Error = unavailable('The service is shutting down')): Promise<void> {
    this.#closed ??= refusal
    while (this.#committing) await this.#chain
  }

  #run<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.#chain.then(operation)
    this.#chain = result.catch(() => undefined)
    return result
  }

  #pump(): void {
    if (this.#committing || this.#queue.length === 0) return
    this.#committing = true
    const group = this.#queue.splice(0)
    this.#run(() => this.#commit(group)).finally(() => {
      this.#committing = false
      this.#pump()
    })
  }

  async #commit(group: Request[]): Promise<void> {
    const { journal, keys, logger, metrics } = this.#options
    const now = Date.now()
    const receivedAt = receivedAtOf(now)
    const stored = this.#stored(group)
    let text = ''
    let index = 0
    for (const request of group)
      for (let end = index + request.measures.length; index < end; index++)
        text += journalLine(stored[index], receivedAt, request.key)
    let segment: Segment
    const appended = performance.now()
    this.#appendingSince = now
    try {
      // After a failed append, nothing more goes through that file (its pages may have been
      // dropped): it is sealed at what it held, and this append starts a new one.
      if (journal.failed) await this.#sealInto(journal)
      const wasEmpty = journal.open === undefined || journal.open.rows === 0
      segment = await journal.append(text, stored.length)
      if (wasEmpty) this.#openSince = now
      metrics.appendSeconds.observe((performance.now() - appended) / 1000)
    } catch (err) {
      metrics.appendFailures.inc()
      this.#failure = `writing the journal failed: ${firstLine(err)}`
      logger.error({ err }, 'writing the journal failed')
      this.#backlog -= stored.length
      const refusal = unavailable('The measures could not be stored, retry later')
      for (const request of group) request.reject(refusal)
      return
    } finally {
      this.#appendingSince = undefined
    }
    this.#failure = undefined
    this.#lastAppend = now
    this.#options.crash.at('after-append')
    for (const request of group) if (request.key !== '') this.#unrecorded.set(request.key, now)
    if (this.#unrecorded.size > 0) {
      try {
        keys.add(this.#unrecorded)
        this.#unrecorded.clear()
      } catch (err) {
        // The rows are durable and will be counted: answer 201. The keys stay in memory (and in
        // the journal, from which a restart adds them again) until the index takes them.
        logger.error({ err }, 'recording idempotency keys failed')
      }
    }
    this.#options.acknowledged(segment.name, stored)
    countByMeasure(stored, metrics.accepted)
    for (const request of group) request.resolve()
    if (segment.rows >= this.#options.maxSegmentRows) await this.#sealInto(journal)
    this.#options.wake()
  }

  async #sealInto(journal: Journal): Promise<void> {
    const sealed = await journal.seal()
    if (sealed) this.#sealed.push(sealed)
  }

  /** The group's measures as stored: each contributor pseudonym replaced by its keyed hash (one HMAC per pseudonym and group). */
  #stored(group: Request[]): StoredMeasure[] {
    const ids = new Map<string, string>()
    const idOf = (pseudonym: string) =>
      ids.get(pseudonym) ?? ids.set(pseudonym, this.#options.contributorId(pseudonym)).get(pseudonym)!
    return group.flatMap((request) =>
      request.measures.map((measure) =>
        measure.contributor === '' ? measure : { ...measure, contributor: idOf(measure.contributor) },
      ),
    )
  }
}

/** Adds the measures of a group to the counter of their measure names (a handful per group, one increment each). */
function countByMeasure(measures: StoredMeasure[], accepted: Metrics['writes']['accepted']): void {
  const counts = new Map<string, number>()
  for (const { measureName } of measures) counts.set(measureName, (counts.get(measureName) ?? 0) + 1)
  for (const [measure, count] of counts) accepted.inc({ measure }, count)
}
