import type { ClickHouseClient } from '../clickhouse/client.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics/metrics.ts'
import type { StoredMeasure } from '../measures/schema.ts'
import { monthsOf, spanOf } from './months.ts'
import { cellKey, Pending, strip, withPending } from './pending.ts'
import { selectMonthVersions, selectStats, type Needs } from './queries.ts'
import { foldInto, mergeStats, rowKey, statBytes, type Stat } from './stats.ts'

/** The stored bucket rows of one measure in one month, as ClickHouse holds them. */
type Cell = {
  measure: string
  month: string
  rows: Map<string, Stat>
  /** What the rows carry beside the additive statistics. */
  needs: Needs
  /** Sum of the rows' counts, and the checksum of the imported ones: compared with ClickHouse's to tell whether the cell is current. */
  total: number
  checksum: number
  /** performance.now() of the last time ClickHouse confirmed the cell, and of its last use. */
  checkedAt: number
  usedAt: number
  /** The memory of the rows (statBytes); and of the cell as accounted, `merged` included. */
  rowBytes: number
  bytes: number
  /** Bumped by every fold: with the pending rows' version, tells whether `merged` still holds. */
  version: number
  /** The rows with the pending measures merged in, as of those versions: shared by the answers until either changes. */
  merged?: { version: number; pending: number; rows: Stat[]; bytes: number }
}

export type CacheOptions = {
  client: ClickHouseClient
  /** How long a cell may go without checking ClickHouse for writes made by others (0: every read checks). */
  maxStalenessMs: number
  /** Bound of the memory the cells and the pending rows take, as estimated (statBytes). */
  maxBytes: number
  logger: Logger
  /** Answers counted by whether they needed a query, and the queries timed. */
  metrics: Metrics['reads']
}

/**
 * The read side's copy of the aggregates: per (measure, month) cell, the finished statistics of
 * every stored bucket row, read from ClickHouse once and then kept current by this server's own
 * writes (the loader folds each segment it loads into the cells, in the same step that takes it
 * out of `pending`). An answer merges the cells of its months with the pending rows, so it holds
 * every measure acknowledged before it, exactly once, without a query.
 *
 * Writes that do not go through this server (another instance on the same ClickHouse, a data
 * engineer's INSERT, an import) are caught by comparing a cell's total count and the checksum of
 * its imported rows with ClickHouse's (selectMonthVersions): every cell read within
 * `maxStalenessMs` was checked no longer ago than that, the cells in use are checked in the
 * background before they get that old, and a changed month is read again.
 *
 * Memory: the cells and the pending rows are accounted as they change (statBytes); once they
 * exceed `maxBytes`, after a read, a load or an acknowledgement, the least recently used cells go
 * until they fit. An answer needing more cells than that is still computed whole, from the cells
 * it holds; they go right after it.
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
    this.#shrink()
  }

  /** A segment is in ClickHouse: its rows move from pending into the cells. Call within `exclusive`, right after the insert. */
  loaded(segment: string): void {
    for (const [measure, months] of this.pending.take(segment)) {
      for (const [month, rows] of months) {
        const cell = this.#cells.get(cellKey(measure, month))
        if (!cell) continue // read from ClickHouse, with these rows, when next needed
        for (const [key, stat] of rows) {
          let row = cell.rows.get(key)
          if (row) {
            cell.rowBytes -= statBytes(row)
            foldInto(row, stat)
          } else cell.rows.set(key, (row = strip(stat, cell.needs)))
          cell.rowBytes += statBytes(row)
          cell.total += stat.count
        }
        cell.version++
        this.#account(cell)
      }
    }
    this.#shrink()
  }

  /** A set-aside segment was discarded for good: its rows leave the pending set, never folded. */
  discard(segment: string): void {
    this.pending.drop(segment)
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
      return this.#computed(() => compute(this.#rows(ready, measure, from, to)))
    }
    return this.exclusive(async () => {
      const { cells, queried } = await this.#load(measure, months, needs)
      answers.inc(queried ? FROM_ENGINE : FROM_CACHE)
      return this.#computed(() => compute(this.#rows(cells, measure, from, to)))
    })
  }

  /** The estimated memory of the cells and the pending rows, bounded by the options' maxBytes. */
  get bytes(): number {
    return this.#bytes + this.pending.bytes
  }

  close(): void {
    clearInterval(this.#refresher)
  }

  /** An answer's result; then the cells over the bound go, the answer's own included (it holds them until now). */
  #computed<T>(compute: () => T): T {
    try {
      return compute()
    } finally {
      this.#shrink()
    }
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
   * The cells are held from here on: acknowledgements may evict some of them meanwhile, the answer
   * still has them (and no load can change them before it is computed).
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
    let read = new Map<string, Cell>()
    if (toRead.length > 0) {
      // One query for the span of what is missing; cells within it are read again with it.
      const span = months.slice(months.indexOf(toRead[0]), months.indexOf(toRead.at(-1)!) + 1)
      const wanted = span.reduce((union, month) => unionNeeds(union, cached[months.indexOf(month)]?.needs), needs)
      read = await this.#readMonths(measure, span, wanted)
    }
    const cells = months.map((month, index) => read.get(month) ?? cached[index]!)
    for (const cell of cells) this.#touch(cell, now)
    return { cells, queried: stale.length > 0 || toRead.length > 0 }
  }

  /** The months among `cells` whose count or imported rows in ClickHouse differ from the cell's; the others are marked checked. */
  async #changedMonths(measure: string, cells: Cell[]): Promise<string[]> {
    if (cells.length === 0) return []
    const months = cells.map((cell) => cell.month).sort()
    const versions = await this.#timed(MONTH_COUNTS, () =>
      selectMonthVersions(this.#options.client, measure, ...spanOf(months)),
    )
    const now = performance.now()
    const changed: string[] = []
    for (const cell of cells) {
      const version = versions.get(cell.month)
      if ((version?.count ?? 0) === cell.total && (version?.checksum ?? 0) === cell.checksum) cell.checkedAt = now
      else changed.push(cell.month)
    }
    return changed
  }

  /** Reads the cells of `months` from ClickHouse, in place of those cached; returns them by month. */
  async #readMonths(measure: string, months: string[], needs: Needs): Promise<Map<string, Cell>> {
    const { stats, checksums } = await this.#timed(STATS, () =>
      selectStats(this.#options.client, measure, ...spanOf(months), needs),
    )
    const now = performance.now()
    const cells = new Map(
      months.map((month): [string, Cell] => [
        month,
        {
          measure,
          month,
          rows: new Map(),
          needs,
          total: 0,
          checksum: checksums.get(month) ?? 0,
          checkedAt: now,
          usedAt: now,
          rowBytes: 0,
          bytes: 0,
          version: 0,
        },
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
      for (const row of cell.rows.values()) cell.rowBytes += statBytes(row)
      const old = this.#cells.get(cellKey(measure, cell.month))
      if (old) this.#evict(old)
      this.#cells.set(cellKey(measure, cell.month), cell)
      this.#account(cell)
    }
    return cells
  }

  /** The rows of `cells` with startDate in [from, to), each merged with its pending measures. */
  #rows(cells: Cell[], measure: string, from: string, to: string): Stat[] {
    const rows: Stat[] = []
    for (const cell of cells) {
      const pending = this.pending.version(measure, cell.month)
      if (cell.merged?.version !== cell.version || cell.merged.pending !== pending) {
        cell.merged = {
          version: cell.version,
          pending,
          ...withPending(cell.rows, this.pending.rows(cell.measure, cell.month), cell.needs),
        }
        this.#account(cell)
      }
      for (const stat of cell.merged.rows) if (stat.startDate >= from && stat.startDate < to) rows.push(stat)
    }
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
    // Map order is the eviction order: the least recently used first. An evicted cell stays out.
    const key = cellKey(cell.measure, cell.month)
    if (this.#cells.get(key) !== cell) return
    this.#cells.delete(key)
    this.#cells.set(key, cell)
  }

  /** Accounts a cell's memory again after its rows or its merged rows changed; an evicted cell is no longer counted. */
  #account(cell: Cell): void {
    if (this.#cells.get(cellKey(cell.measure, cell.month)) !== cell) return
    const merged = cell.merged ? cell.merged.bytes + cell.merged.rows.length * POINTER_BYTES : 0
    const bytes = CELL_BYTES + cell.rowBytes + merged
    this.#bytes += bytes - cell.bytes
    cell.bytes = bytes
  }

  /** Evicts the least recently used cells until the memory fits the bound. */
  #shrink(): void {
    for (const cell of this.#cells.values()) {
      if (this.bytes <= this.#options.maxBytes) return
      this.#evict(cell)
    }
  }

  #evict(cell: Cell): void {
    if (this.#cells.get(cellKey(cell.measure, cell.month)) !== cell) return
    this.#cells.delete(cellKey(cell.measure, cell.month))
    this.#bytes -= cell.bytes
  }
}

// A cell beside its rows (its object, map entry and key); a slot of its merged list.
const CELL_BYTES = 400
const POINTER_BYTES = 8

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
