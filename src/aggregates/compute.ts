import { GROUPS, type Group } from '../definitions/schema.ts'
import { mean, mergeStats, quartilesOf, std, type Stat } from './stats.ts'

export const PERIODS = ['day', 'week', 'month', 'year'] as const
export type Period = (typeof PERIODS)[number]

/** A rollup: rows where `rolledUp` groups are merged, for buckets in [fromDate, toDate) (null: unbounded). */
export type GroupingSet = { rolledUp: Group[]; fromDate: string | null; toDate: string | null }

export type AggregateQuery = {
  measureName: string
  /** `YYYY-MM-DD hh:mm:ss`: stored buckets from startDate (inclusive) to endDate (exclusive). */
  startDate: string
  endDate: string
  createdBy: string | null
  period: Period | null
  threshold: number
  /** What the threshold counts: measures, or distinct contributors (read too, as `contributors`). */
  thresholdOn: 'measures' | 'contributors'
  /** Also return the rows under the threshold, as their keys alone (shown = 0), for complementary suppression (answers with rollups). */
  keepHidden: boolean
  withQuartiles: boolean
  /** Rollups beside the full grouping, each rolling up distinct groups. */
  rollups: GroupingSet[]
}

export type AggregateRow = {
  bucket: string
  created_by: string
  group1: string
  group2: string
  group3: string
  /** Which groups are rolled up: see isRolledUp. */
  rolled_up: number
  /** 1 when the row reaches the threshold; a row under it has no statistics (nulls, no quartiles). */
  shown: number
  total_count: number | null
  not_zero_count: number | null
  total_sum: number | null
  min_value: number | null
  max_value: number | null
  avg: number | null
  std: number | null
  /** [first quartile, median, third quartile]; only when asked for, nulls where no value was kept. */
  quartiles?: [number | null, number | null, number | null] | []
  /** Distinct contributors; only when the threshold counts them. */
  contributors?: number | null
}

/** Each group's bit in a mask of rolled-up groups, group1 the most significant (as SQL's grouping(group1, group2, group3)). */
const BIT: Record<Group, number> = { group1: 4, group2: 2, group3: 1 }
export const maskOf = (groups: Group[]) => groups.reduce((mask, group) => mask | BIT[group], 0)
/** Read for every group of every answer row: one lookup. */
export const isRolledUp = (row: AggregateRow, group: Group): boolean => (row.rolled_up & BIT[group]) !== 0

/**
 * The label of the period holding a stored bucket, its first instant (weeks are ISO: Monday), as
 * ClickHouse's toStartOfDay, toMonday, toStartOfMonth and toStartOfYear give it.
 */
const BUCKETS: Record<Period | 'stored', (startDate: string) => string> = {
  stored: (startDate) => startDate,
  day: (startDate) => `${startDate.slice(0, 10)} 00:00:00`,
  week: (startDate) => {
    const day = new Date(`${startDate.slice(0, 10)}T00:00:00Z`)
    day.setUTCDate(day.getUTCDate() - ((day.getUTCDay() + 6) % 7))
    return `${day.toISOString().slice(0, 10)} 00:00:00`
  },
  month: (startDate) => `${startDate.slice(0, 7)}-01 00:00:00`,
  year: (startDate) => `${startDate.slice(0, 4)}-01-01 00:00:00`,
}

/**
 * The rows of an answer, from the stored bucket rows of its range: for each grouping set (the full
 * grouping, then each rollup), the rows merged by (period bucket, createdBy, groups not rolled up),
 * each shown when its count (or distinct contributors) reaches the threshold. A row under the
 * threshold never carries its statistics: it is left out, or with `keepHidden` kept as its keys
 * alone, so that suppression can tell which rows are hidden. Ordered by bucket, createdBy, then
 * each group (rolled up after its values), strings in byte order, as ClickHouse sorts them.
 */
export function computeRows(query: AggregateQuery, stats: Stat[]): AggregateRow[] {
  const label = memoized(BUCKETS[query.period ?? 'stored'])
  const inScope = query.createdBy === null ? stats : stats.filter((stat) => stat.createdBy === query.createdBy)
  const rows: AggregateRow[] = []
  for (const set of [{ rolledUp: [], fromDate: null, toDate: null }, ...query.rollups]) {
    const mask = maskOf(set.rolledUp)
    const kept = GROUPS.map((group) => !set.rolledUp.includes(group))
    // Stored buckets as they are: an imported duplicate row stays a row of its own, as the original answered it.
    const asStored = query.period === null && mask === 0
    const merged = new Map<string, { bucket: string; stat: Stat }>()
    for (const stat of inScope) {
      const bucket = label(stat.startDate)
      if ((set.fromDate !== null && bucket < set.fromDate) || (set.toDate !== null && bucket >= set.toDate)) continue
      // rowKey's fields (stats.ts), the rolled-up groups emptied and the bucket the period's.
      const key = `${bucket}\0${stat.createdBy}\0${kept[0] ? stat.group1 : ''}\0${kept[1] ? stat.group2 : ''}\0${kept[2] ? stat.group3 : ''}${asStored && stat.duplicate ? `\0${stat.duplicate}` : ''}`
      const earlier = merged.get(key)
      merged.set(key, { bucket, stat: earlier ? mergeStats(earlier.stat, stat) : stat })
    }
    for (const { bucket, stat } of merged.values()) {
      const row = toRow(query, bucket, stat, mask, kept)
      if (row.shown || query.keepHidden) rows.push(row)
    }
  }
  return rows.sort(compareRows)
}

function toRow(query: AggregateQuery, bucket: string, stat: Stat, mask: number, kept: boolean[]): AggregateRow {
  const contributors = query.thresholdOn === 'contributors' ? stat.contributors!.size : undefined
  const shown = (contributors ?? stat.count) >= query.threshold
  const row: AggregateRow = {
    bucket,
    created_by: stat.createdBy,
    group1: kept[0] ? stat.group1 : '',
    group2: kept[1] ? stat.group2 : '',
    group3: kept[2] ? stat.group3 : '',
    rolled_up: mask,
    shown: shown ? 1 : 0,
    total_count: shown ? stat.count : null,
    not_zero_count: shown ? stat.countNotZero : null,
    total_sum: shown ? stat.sum : null,
    min_value: shown ? stat.min : null,
    max_value: shown ? stat.max : null,
    avg: shown ? mean(stat) : null,
    std: shown ? std(stat) : null,
  }
  if (query.withQuartiles) row.quartiles = shown ? (quartilesOf(stat) ?? [null, null, null]) : []
  if (contributors !== undefined) row.contributors = shown ? contributors : null
  return row
}

function compareRows(a: AggregateRow, b: AggregateRow): number {
  if (a.bucket !== b.bucket) return a.bucket < b.bucket ? -1 : 1
  const byCreator = compareBytes(a.created_by, b.created_by)
  if (byCreator !== 0) return byCreator
  for (const group of GROUPS) {
    const rolled = Number(isRolledUp(a, group)) - Number(isRolledUp(b, group))
    if (rolled !== 0) return rolled
    const byValue = compareBytes(a[group], b[group])
    if (byValue !== 0) return byValue
  }
  return 0
}

/**
 * Strings in the order of their UTF-8 bytes, as ClickHouse compares them. UTF-16 code units order
 * them alike, but for characters beyond U+FFFF (surrogate pairs), which UTF-8 puts after all others.
 */
export function compareBytes(a: string, b: string): number {
  if (a === b) return 0
  const length = Math.min(a.length, b.length)
  for (let index = 0; index < length; index++) {
    const x = a.charCodeAt(index)
    const y = b.charCodeAt(index)
    if (x !== y) return rank(x) - rank(y)
  }
  return a.length - b.length
}

const rank = (unit: number) => (unit >= 0xd800 && unit <= 0xdfff ? unit + 0x10000 : unit)

function memoized(fn: (value: string) => string): (value: string) => string {
  const seen = new Map<string, string>()
  return (value) => {
    let result = seen.get(value)
    if (result === undefined) seen.set(value, (result = fn(value)))
    return result
  }
}
