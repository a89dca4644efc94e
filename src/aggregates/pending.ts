import type { StoredMeasure } from '../measures/schema.ts'
import { mergeStats, oneRunOf, rowKey, type Stat } from './stats.ts'

/** A row's statistics being built from measures: values gathered unsorted, sorted when read (and kept until the next measure). */
type Accumulator = { stat: Stat; values: number[]; snapshot?: Stat }

/** The key of a measure's month (`YYYY-MM`): the read cache's cells and the pending versions share it. */
export const cellKey = (measure: string, month: string) => `${measure}\0${month}`

/** Rows by measure, then by month (`YYYY-MM`), then by row key. */
type RowsByMonth = Map<string, Map<string, Map<string, Stat>>>

/**
 * The measures acknowledged but not yet loaded into ClickHouse, by journal segment, as per-row
 * statistics that mirror what the materialized view makes of them (quartile values only for
 * measures received with withQuartiles, contributor ids other than 0). Every answer adds them to
 * the cached rows, which hold what ClickHouse has: a measure moves from here to the cache in one
 * synchronous step when its segment is loaded, so an answer counts it exactly once.
 */
export class Pending {
  #segments = new Map<string, Map<string, Map<string, Map<string, Accumulator>>>>()
  /** Per measure and month, bumped whenever its pending rows change: readers keep what they merged until then. */
  #versions = new Map<string, number>()

  add(segment: string, measures: StoredMeasure[]): void {
    let byMeasure = this.#segments.get(segment)
    if (!byMeasure) this.#segments.set(segment, (byMeasure = new Map()))
    // A batch's measures mostly share their measure and month: the maps are looked up on a change.
    let rows: Map<string, Accumulator> | undefined
    let measureName = ''
    let month = ''
    for (const measure of measures) {
      if (rows === undefined || measure.measureName !== measureName || !measure.startDate.startsWith(month)) {
        measureName = measure.measureName
        month = measure.startDate.slice(0, 7)
        let byMonth = byMeasure.get(measureName)
        if (!byMonth) byMeasure.set(measureName, (byMonth = new Map()))
        rows = byMonth.get(month)
        if (!rows) byMonth.set(month, (rows = new Map()))
        this.#bump(measureName, month)
      }
      const key = rowKey(measure)
      const accumulator = rows.get(key)
      if (accumulator) add(accumulator, measure)
      else rows.set(key, start(measure))
    }
  }

  /** The rows of a loaded segment, which leave the pending set. */
  take(segment: string): RowsByMonth {
    const byMeasure = this.#segments.get(segment)
    this.#segments.delete(segment)
    const result: RowsByMonth = new Map()
    for (const [measure, byMonth] of byMeasure ?? []) {
      const months = new Map<string, Map<string, Stat>>()
      for (const month of byMonth.keys()) this.#bump(measure, month)
      for (const [month, rows] of byMonth)
        months.set(month, new Map([...rows].map(([key, accumulator]) => [key, toStat(accumulator)])))
      result.set(measure, months)
    }
    return result
  }

  /** A number that changes whenever the pending rows of a measure in a month do. */
  version(measure: string, month: string): number {
    return this.#versions.get(cellKey(measure, month)) ?? 0
  }

  #bump(measure: string, month: string): void {
    const key = cellKey(measure, month)
    this.#versions.set(key, (this.#versions.get(key) ?? 0) + 1)
  }

  /** The pending rows of a measure in a month, each row merged over every segment. */
  rows(measure: string, month: string): Map<string, Stat> {
    const merged = new Map<string, Stat>()
    for (const byMeasure of this.#segments.values()) {
      for (const [key, accumulator] of byMeasure.get(measure)?.get(month) ?? []) {
        const stat = toStat(accumulator)
        const earlier = merged.get(key)
        merged.set(key, earlier ? oneRunOf(mergeStats(earlier, stat)) : stat)
      }
    }
    return merged
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

function toStat(accumulator: Accumulator): Stat {
  const { stat, values } = accumulator
  accumulator.snapshot ??= {
    ...stat,
    values: [Float64Array.from(values).sort()],
    contributors: new Set(stat.contributors),
  }
  return accumulator.snapshot
}
