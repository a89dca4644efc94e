import type { ClickHouseClient } from '../clickhouse/client.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics/metrics.ts'
import type { StoredMeasure } from '../measures/schema.ts'
import { cellKey, Pending } from './pending.ts'
import { selectMonthCounts, selectStats, type Needs } from './queries.ts'
import { foldInto, mergeStats, rowKey, type Stat } from './stats.ts'

/** The stored bucket rows of one measure in one month, as ClickHouse holds them. */
type Cell = {
  measure: string
  month: string
  rows: Map<string, Stat>
  /** What the rows carry beside the additive statistics. */
  needs: Needs
  /** Sum of the rows' counts: compared with ClickHouse's to tell whether the cell is current. */
  total: number
  /** performance.now() of the last time ClickHouse confirmed the cell, and of its last use. */
  checkedAt: number
  usedAt: number
  bytes: number
  /** Bumped by every fold: with the pending rows' version, tells whether `merged` still holds. */
  version: number
  /** The rows with the pending measures merged in, as of those versions: shared by the answers until either changes. */
  merged?: { version: number; pending: number; rows: Stat[] }
}

export type CacheOptions = {
  client: ClickHouseClient
  /** How long a cell may go without checking ClickHouse for writes made by others (0: every read checks). */
  maxStalenessMs: number
  /** Rough bound of the memory the cells take. */
  maxBytes: number
  logger: Logger
  /** Answers counted by whether they needed a query, and the queries timed. */
  metrics: Metrics['reads']
}

// Rough sizes, for the memory bound: a row with its strings and boxed numbers, a quartile value, a contributor id.
const ROW_BYTES = 300
const VALUE_BYTES = 8
const CONTRIBUTOR_BYTES = 64

/**
 * The read side's copy of the aggregates: per (measure, month) cell, the finished statistics of
 * every stored bucket row, read from ClickHouse once and then kept current by this server's own
 * writes (the loader folds each segment it loads into the cells, in the same step that takes it
 * out of `pending`). An answer merges the cells of its months with the pending rows, so it holds
 * every measure acknowledged before it, exactly once, without a query.
 *
 * Writes that do not go through this server (another instance on the same ClickHouse, a data
 * engineer's INSERT) are caught by comparing a cell's total count with ClickHouse's (counts only
 * grow): every cell read within `maxStalenessMs` was checked no longer ago than that, the cells in
 * use are checked in the background before they get that old, and a changed month is read again.
 *
 * Reading ClickHouse and loading a segment exclude each other (`exclusive`): a read made while a
 * load is in flight could not tell whether its result holds that load, which the fold then adds.
 */
export class BucketCache {
  readonly pending = new Pending()
  #options: CacheOptions
  /** In least recently used order. */
  #cells = new Map<string, Cell>()
  #bytes = 0
  #lock: Promise<unknown> = Promise.resolve()
  #refresher: NodeJS.Timeout | undefined
  /** Cells whose check is queued or running. */
  #checking = new Set<Cell>()

  constructor(options: CacheOptions) {
    this.#options = options
    // A cell in use is checked once half its allowed age has passed, looked for four times as
    // often: it gets checked well before answers would have to wait for it.
    if (options.maxStalenessMs > 0) {
      this.#refresher = setInterval(() => this.#refreshUsed(), Math.max(options.maxStalenessMs / 4, 10)).unref()
    }
  }

  /** Runs `fn` while no other exclusive section runs (one at a time, in call order). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#lock.then(fn)
    this.#lock = run.catch(() => undefined)
    return run
  }

  /** The measures of a journal segment, just acknowledged: answers include them from now on. */
  acknowledged(segment: string, measures: StoredMeasure[]): void {
    this.pending.add(segment, measures)
  }

  /** A segment is in ClickHouse: its rows move from pending into the cells. Call within `exclusive`, right after the insert. */
  loaded(segment: string): void {
    for (const [measure, months] of this.pending.take(segment)) {
      for (const [month, rows] of months) {
        const cell = this.#cells.get(cellKey(measure, month))
        if (!cell) continue // read from ClickHouse, with these rows, when next needed
        for (const [key, stat] of rows) {
          const row = cell.rows.get(key)
          if (row) foldInto(row, stat)
          else
            cell.rows.set(key, {
              ...stat,
              values: cell.needs.values ? stat.values : null,
              contributors: cell.needs.contributors ? stat.contributors : null,
            })
          cell.total += stat.count
        }
        cell.version++
        this.#resize(cell)
      }
    }
  }

  /** A set-aside segment was discarded for good: its rows leave the pending set, never folded. */
  discard(segment: string): void {
    this.pending.take(segment)
  }

  /** Drops the cells of a measure (every measure without one): its aggregates changed other than by loads. */
  forget(measure?: string): void {
    for (const cell of [...this.#cells.values()])
      if (measure === undefined || cell.measure === measure) this.#evict(cell)
  }

  /**
   * Calls `compute` with every stored bucket row of `measure` whose startDate is in [from, to)
   * (`YYYY-MM-DD hh:mm:ss`), the pending measures merged in, carrying `needs`; synchronously, so
   * that no load changes the rows meanwhile.
   */
  async read<T>(measure: string, from: string, to: string, needs: Needs, compute: (rows: Stat[]) => T): Promise<T> {
    const months = monthsOf(from, to)
    const { answers } = this.#options.metrics
    const ready = this.#ready(measure, months, needs)
    if (ready) {
      answers.inc(FROM_CACHE)
      return compute(this.#rows(ready, measure, from, to))
    }
    return this.exclusive(async () => {
      const { cells, queried } = await this.#load(measure, months, needs)
      answers.inc(queried ? FROM_ENGINE : FROM_CACHE)
      return compute(this.#rows(cells, measure, from, to))
    })
  }

  /** The cells' estimated memory, bounded by the options' maxBytes. */
  get bytes(): number {
    return this.#bytes
  }

  close(): void {
    clearInterval(this.#refresher)
  }

  /** The cells of `months` when all are cached, current and carry `needs`; else undefined. */
  #ready(measure: string, months: string[], needs: Needs): Cell[] | undefined {
    const now = performance.now()
    const cells: Cell[] = []
    for (const month of months) {
      const cell = this.#cells.get(cellKey(measure, month))
      if (
        !cell ||
        !covers(cell.needs, needs) ||
        now - cell.checkedAt > this.#options.maxStalenessMs ||
        this.#options.maxStalenessMs === 0
      )
        return undefined
      cells.push(cell)
    }
    for (const cell of cells) this.#touch(cell, now)
    return cells
  }

  /**
   * Within `exclusive`: the cells of `months`, checked and read from ClickHouse where needed, and
   * whether that took a query (not when another read brought them up to date while this one waited).
   */
  async #load(measure: string, months: string[], needs: Needs): Promise<{ cells: Cell[]; queried: boolean }> {
    const now = performance.now()
    const cached = months.map((month) => this.#cells.get(cellKey(measure, month)))
    const stale = cached.filter(
      (cell): cell is Cell =>
        cell !== undefined && covers(cell.needs, needs) && now - cell.checkedAt >= this.#options.maxStalenessMs,
    )
    const changed = new Set(await this.#changedMonths(measure, stale))
    const toRead = months.filter(
      (month, index) => !cached[index] || !covers(cached[index].needs, needs) || changed.has(month),
    )
    if (toRead.length > 0) {
      // One query for the span of what is missing; cells within it are read again with it.
      const span = months.slice(months.indexOf(toRead[0]), months.indexOf(toRead.at(-1)!) + 1)
      const wanted = span.reduce(
        (union, month) => unionNeeds(union, this.#cells.get(cellKey(measure, month))?.needs),
        needs,
      )
      await this.#readMonths(measure, span, wanted)
    }
    const cells = months.map((month) => this.#cells.get(cellKey(measure, month))!)
    for (const cell of cells) this.#touch(cell, now)
    // Evicted only now: a single answer's months may exceed the bound, they are all needed here.
    this.#shrink(new Set(cells))
    return { cells, queried: stale.length > 0 || toRead.length > 0 }
  }

  /** The months among `cells` whose count in ClickHouse differs from the cell's; the others are marked checked. */
  async #changedMonths(measure: string, cells: Cell[]): Promise<string[]> {
    if (cells.length === 0) return []
    const months = cells.map((cell) => cell.month).sort()
    const counts = await this.#timed(MONTH_COUNTS, () =>
      selectMonthCounts(this.#options.client, measure, monthStart(months[0]), monthStart(nextMonth(months.at(-1)!))),
    )
    const now = performance.now()
    const changed: string[] = []
    for (const cell of cells) {
      if ((counts.get(cell.month) ?? 0) === cell.total) cell.checkedAt = now
      else changed.push(cell.month)
    }
    return changed
  }

  async #readMonths(measure: string, months: string[], needs: Needs): Promise<void> {
    const stats = await this.#timed(STATS, () =>
      selectStats(this.#options.client, measure, monthStart(months[0]), monthStart(nextMonth(months.at(-1)!)), needs),
    )
    const now = performance.now()
    const cells = new Map(
      months.map((month) => [
        month,
        { measure, month, rows: new Map(), needs, total: 0, checkedAt: now, usedAt: now, bytes: 0, version: 0 } as Cell,
      ]),
    )
    for (const stat of stats) {
      const cell = cells.get(stat.startDate.slice(0, 7))!
      // A bucket imported from the original service and holding measures received since: one row.
      const key = rowKey(stat)
      const other = cell.rows.get(key)
      cell.rows.set(key, other ? mergeStats(other, stat) : stat)
      cell.total += stat.count
    }
    for (const cell of cells.values()) {
      const old = this.#cells.get(cellKey(measure, cell.month))
      if (old) this.#evict(old)
      this.#cells.set(cellKey(measure, cell.month), cell)
      this.#resize(cell)
    }
  }

  /** The rows of `cells` with startDate in [from, to), each merged with its pending measures. */
  #rows(cells: Cell[], measure: string, from: string, to: string): Stat[] {
    const rows: Stat[] = []
    for (const cell of cells) {
      const pending = this.pending.version(measure, cell.month)
      if (cell.merged?.version !== cell.version || cell.merged.pending !== pending) {
        cell.merged = { version: cell.version, pending, rows: this.#merged(cell) }
      }
      for (const stat of cell.merged.rows) if (stat.startDate >= from && stat.startDate < to) rows.push(stat)
    }
    return rows
  }

  /** The cell's rows, each merged with its pending measures. */
  #merged(cell: Cell): Stat[] {
    const pending = this.pending.rows(cell.measure, cell.month)
    const rows: Stat[] = []
    for (const [key, stat] of cell.rows) {
      const added = pending.get(key)
      rows.push(added ? mergeStats(stat, strip(added, cell.needs)) : stat)
    }
    for (const [key, stat] of pending) if (!cell.rows.has(key)) rows.push(strip(stat, cell.needs))
    return rows
  }

  /** Checks the cells used since their last check before they become stale, so that answers rarely wait for it. */
  #refreshUsed(): void {
    const now = performance.now()
    const due = new Map<string, Cell[]>()
    for (const cell of this.#cells.values()) {
      if (
        cell.usedAt > cell.checkedAt &&
        now - cell.checkedAt >= this.#options.maxStalenessMs / 2 &&
        !this.#checking.has(cell)
      ) {
        due.set(cell.measure, [...(due.get(cell.measure) ?? []), cell])
        this.#checking.add(cell)
      }
    }
    for (const [measure, cells] of due) {
      this.exclusive(async () => {
        const live = cells.filter((cell) => this.#cells.get(cellKey(measure, cell.month)) === cell)
        const changed = await this.#changedMonths(measure, live)
        for (const month of changed) {
          const cell = this.#cells.get(cellKey(measure, month))
          if (cell) await this.#readMonths(measure, [month], cell.needs)
        }
      })
        .catch((err) =>
          this.#options.logger.warn({ err, measure }, 'checking cached aggregates against ClickHouse failed'),
        )
        .finally(() => {
          for (const cell of cells) this.#checking.delete(cell)
        })
    }
  }

  /** Runs a ClickHouse query, timed whether it succeeds or not. */
  async #timed<T>(query: { query: string }, run: () => Promise<T>): Promise<T> {
    const end = this.#options.metrics.querySeconds.startTimer(query)
    try {
      return await run()
    } finally {
      end()
    }
  }

  #touch(cell: Cell, now: number): void {
    cell.usedAt = now
    // Map order is the eviction order: the least recently used first.
    const key = cellKey(cell.measure, cell.month)
    this.#cells.delete(key)
    this.#cells.set(key, cell)
  }

  #resize(cell: Cell): void {
    let bytes = ROW_BYTES
    for (const row of cell.rows.values())
      bytes += ROW_BYTES + (row.values?.length ?? 0) * VALUE_BYTES + (row.contributors?.size ?? 0) * CONTRIBUTOR_BYTES
    this.#bytes += bytes - cell.bytes
    cell.bytes = bytes
  }

  #shrink(keep: Set<Cell>): void {
    for (const cell of this.#cells.values()) {
      if (this.#bytes <= this.#options.maxBytes) return
      if (!keep.has(cell)) this.#evict(cell)
    }
  }

  #evict(cell: Cell): void {
    if (this.#cells.get(cellKey(cell.measure, cell.month)) !== cell) return
    this.#cells.delete(cellKey(cell.measure, cell.month))
    this.#bytes -= cell.bytes
  }
}

// Metric labels (src/metrics/metrics.ts).
const FROM_CACHE = { source: 'cache' }
const FROM_ENGINE = { source: 'engine' }
const STATS = { query: 'stats' }
const MONTH_COUNTS = { query: 'month_counts' }
const covers = (has: Needs, needs: Needs) => (has.values || !needs.values) && (has.contributors || !needs.contributors)
const unionNeeds = (a: Needs, b: Needs | undefined): Needs => ({
  values: a.values || Boolean(b?.values),
  contributors: a.contributors || Boolean(b?.contributors),
})

/** A pending row as a cell carries it: without what the cell does not read. */
const strip = (stat: Stat, needs: Needs): Stat =>
  needs.values && needs.contributors
    ? stat
    : {
        ...stat,
        values: needs.values ? stat.values : null,
        contributors: needs.contributors ? stat.contributors : null,
      }

const monthStart = (month: string) => `${month}-01 00:00:00`

function nextMonth(month: string): string {
  const [year, index] = month.split('-').map(Number)
  return index === 12 ? `${year + 1}-01` : `${year}-${String(index + 1).padStart(2, '0')}`
}

/** The months (`YYYY-MM`) holding instants of [from, to). */
export function monthsOf(from: string, to: string): string[] {
  const months: string[] = []
  if (from >= to) return months
  for (let month = from.slice(0, 7); monthStart(month) < to; month = nextMonth(month)) months.push(month)
  return months
}
