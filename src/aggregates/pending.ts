import type { StoredMeasure } from '../measures/schema.ts'
import type { Needs } from './queries.ts'
import {
  contributorBytes,
  mergeStats,
  oneRunOf,
  ROW_BYTES,
  rowKey,
  statBytes,
  VALUE_BYTES,
  type Stat,
} from './stats.ts'

/** A row's statistics being built from measures: values gathered unsorted, sorted when read (and kept until the next measure). */
type Accumulator = { stat: Stat; values: number[]; snapshot?: Stat; bytes: number }

/** The pending rows of one journal segment, by measure, then month, then row key; and their memory. */
type Segment = { measures: Map<string, Map<string, Map<string, Accumulator>>>; bytes: number }

/** The key of a measure's month (`YYYY-MM`): the read cache's cells and the pending versions share it. */
export const cellKey = (measure: string, month: string) => `${measure}\0${month}`

/** Rows by measure, then by month (`YYYY-MM`), then by row key. */
type RowsByMonth = Map<string, Map<string, Map<string, Stat>>>

// A version's entry (its key string, the map's slot); a gathered value in its growing array.
const VERSION_BYTES = 100
const GATHERED_VALUE_BYTES = 2 * VALUE_BYTES

/**
 * The measures acknowledged but not yet loaded into ClickHouse, by journal segment, as per-row
 * statistics that mirror what the materialized view makes of them (quartile values only for
 * measures received with withQuartiles, contributor ids other than 0). Every answer adds them to
 * the cached rows, which hold what ClickHouse has: a measure moves from here to the cache in one
 * synchronous step when its segment is loaded, so an answer counts it exactly once.
 */
export class Pending {
  #segments = new Map<string, Segment>()
  /**
   * Per measure and month with pending rows, the clock at their last change: readers keep what
   * they merged until then. A month without pending rows has no entry (version 0), so the map
   * holds only what is pending; the clock never goes back, so no two states share a version.
   */
  #versions = new Map<string, number>()
  #clock = 0
  #bytes = 0

  add(segment: string, measures: StoredMeasure[]): void {
    let pending = this.#segments.get(segment)
    if (!pending) this.#segments.set(segment, (pending = { measures: new Map(), bytes: 0 }))
    const bytesBefore = pending.bytes
    // A batch's measures mostly share their measure and month: the maps are looked up on a change.
    let rows: Map<string, Accumulator> | undefined
    let measureName = ''
    let month = ''
    for (const measure of measures) {
      if (rows === undefined || measure.measureName !== measureName || !measure.startDate.startsWith(month)) {
        measureName = measure.measureName
        month = measure.startDate.slice(0, 7)
        let byMonth = pending.measures.get(measureName)
        if (!byMonth) pending.measures.set(measureName, (byMonth = new Map()))
        rows = byMonth.get(month)
        if (!rows) byMonth.set(month, (rows = new Map()))
        this.#bump(measureName, month)
      }
      const key = rowKey(measure)
      let accumulator = rows.get(key)
      if (accumulator) {
        pending.bytes -= accumulator.bytes
        add(accumulator, measure)
      } else rows.set(key, (accumulator = start(measure)))
      pending.bytes += accumulator.bytes = bytesOf(accumulator)
    }
    this.#bytes += pending.bytes - bytesBefore
  }

  /** The rows of a segment discarded for good: they leave the pending set, never folded. */
  drop(segment: string): void {
    this.#remove(segment)
  }

  /** The rows of a loaded segment, which leave the pending set. */
  take(segment: string): RowsByMonth {
    const byMeasure = this.#remove(segment)
    const result: RowsByMonth = new Map()
    for (const [measure, byMonth] of byMeasure) {
      const months = new Map<string, Map<string, Stat>>()
      for (const [month, rows] of byMonth)
        months.set(month, new Map([...rows].map(([key, accumulator]) => [key, toStat(accumulator)])))
      result.set(measure, months)
    }
    return result
  }

  /** A number that changes whenever the pending rows of a measure in a month do (0: none pending). */
  version(measure: string, month: string): number {
    return this.#versions.get(cellKey(measure, month)) ?? 0
  }

  /** The memory the pending rows and their versions take (an estimate, as the read cache's). */
  get bytes(): number {
    return this.#bytes + this.#versions.size * VERSION_BYTES
  }

  /** The pending rows of a measure in a month, each row merged over every segment. */
  rows(measure: string, month: string): Map<string, Stat> {
    const merged = new Map<string, Stat>()
    for (const pending of this.#segments.values()) {
      for (const [key, accumulator] of pending.measures.get(measure)?.get(month) ?? []) {
        const stat = this.#snapshot(pending, accumulator)
        const earlier = merged.get(key)
        merged.set(key, earlier ? oneRunOf(mergeStats(earlier, stat)) : stat)
      }
    }
    return merged
  }

  /** Drops a segment's rows: their months' versions change, and go once no other segment has rows there. */
  #remove(segment: string): Segment['measures'] {
    const pending = this.#segments.get(segment)
    if (!pending) return new Map()
    this.#segments.delete(segment)
    this.#bytes -= pending.bytes
    for (const [measure, byMonth] of pending.measures) {
      for (const month of byMonth.keys()) {
        if (this.#holds(measure, month)) this.#bump(measure, month)
        else this.#versions.delete(cellKey(measure, month))
      }
    }
    return pending.measures
  }

  #holds(measure: string, month: string): boolean {
    for (const pending of this.#segments.values()) if (pending.measures.get(measure)?.has(month)) return true
    return false
  }

  #bump(measure: string, month: string): void {
    this.#versions.set(cellKey(measure, month), ++this.#clock)
  }

  /** The accumulator's statistics, its memory accounted when they are made. */
  #snapshot(pending: Segment, accumulator: Accumulator): Stat {
    if (accumulator.snapshot) return accumulator.snapshot
    const stat = toStat(accumulator)
    const bytes = bytesOf(accumulator)
    pending.bytes += bytes - accumulator.bytes
    this.#bytes += bytes - accumulator.bytes
    accumulator.bytes = bytes
    return stat
  }
}

function start(measure: StoredMeasure): Accumulator {
  const { value } = measure
  const contributor = measure.contributor === '' ? null : BigInt(measure.contributor)
  return {
    stat: {
      startDate: measure.startDate,
      createdBy: measure.createdBy,
      group1: measure.group1,
      group2: measure.group2,
      group3: measure.group3,
      count: 1,
      countNotZero: value !== 0 ? 1 : 0,
      sum: value,
      min: value,
      max: value,
      mean: value,
      m2: 0,
      values: null,
      contributors: new Set(contributor === null ? [] : [contributor]),
    },
    values: measure.withQuartiles ? [value] : [],
    bytes: 0,
  }
}

/** Welford's update, as the view's varSampStable state does it. */
function add(accumulator: Accumulator, measure: StoredMeasure): void {
  const { stat } = accumulator
  const { value } = measure
  accumulator.snapshot = undefined
  stat.count++
  if (value !== 0) stat.countNotZero++
  stat.sum += value
  stat.min = Math.min(stat.min, value)
  stat.max = Math.max(stat.max, value)
  const delta = value - stat.mean
  stat.mean += delta / stat.count
  stat.m2 += delta * (value - stat.mean)
  if (measure.withQuartiles) accumulator.values.push(value)
  if (measure.contributor !== '') stat.contributors!.add(BigInt(measure.contributor))
}

/** An accumulator's memory: its row, its gathered values (an array grows by half again), its snapshot if made. */
const bytesOf = (accumulator: Accumulator): number =>
  statBytes(accumulator.stat) +
  accumulator.values.length * GATHERED_VALUE_BYTES +
  (accumulator.snapshot ? statBytes(accumulator.snapshot) : 0)

function toStat(accumulator: Accumulator): Stat {
  const { stat, values } = accumulator
  accumulator.snapshot ??= {
    ...stat,
    values: [Float64Array.from(values).sort()],
    contributors: new Set(stat.contributors),
  }
  return accumulator.snapshot
}

/**
 * A cell's rows (`rows`, by row key), each merged with its pending measures (`pending`), as the
 * cell carries them (`needs`); and the memory of the rows made for that (their values are the
 * cell's and the pending ones', shared; contributor sets are copied).
 */
export function withPending(
  rows: Map<string, Stat>,
  pending: Map<string, Stat>,
  needs: Needs,
): { rows: Stat[]; bytes: number } {
  const merged: Stat[] = []
  let bytes = 0
  for (const [key, stat] of rows) {
    const added = pending.get(key)
    if (!added) merged.push(stat)
    else {
      const row = mergeStats(stat, strip(added, needs))
      bytes += ROW_BYTES + contributorBytes(row)
      merged.push(row)
    }
  }
  for (const [key, stat] of pending) {
    if (rows.has(key)) continue
    bytes += ROW_BYTES
    merged.push(strip(stat, needs))
  }
  return { rows: merged, bytes }
}

/** A pending row as a cell carries it: without what the cell does not read. */
export const strip = (stat: Stat, needs: Needs): Stat =>
  needs.values && needs.contributors
    ? stat
    : {
        ...stat,
        values: needs.values ? stat.values : null,
        contributors: needs.contributors ? stat.contributors : null,
      }
