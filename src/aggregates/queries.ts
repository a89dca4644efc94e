import type { ClickHouseClient } from '../clickhouse/client.ts'
import { GROUPS, type Group } from '../wildcards/wildcards.ts'

export const PERIODS = ['day', 'week', 'month', 'year'] as const
export type Period = (typeof PERIODS)[number]

// The bucket of each period, labelled with its first instant (weeks are ISO: Monday). toMonday,
// toStartOfMonth and toStartOfYear return a Date; back to DateTime, every label reads `YYYY-MM-DD hh:mm:ss`.
const BUCKETS: Record<Period | 'stored', string> = {
  stored: 'start_date',
  day: 'toStartOfDay(start_date)',
  week: "toDateTime(toMonday(start_date), 'UTC')",
  month: "toDateTime(toStartOfMonth(start_date), 'UTC')",
  year: "toDateTime(toStartOfYear(start_date), 'UTC')",
}

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
  /** grouping(group1, group2, group3): see isRolledUp. */
  rolled_up: number
  total_count: number
  not_zero_count: number
  total_sum: number
  min_value: number
  max_value: number
  avg: number
  std: number
  /** [first quartile, median, third quartile]; only when asked for, null where no quartile state was kept. */
  quartiles?: [number | null, number | null, number | null]
}

/** grouping() of several columns is a bit mask, the first column the most significant bit, 1 = rolled up. */
const maskOf = (groups: Group[]) => groups.reduce((mask, group) => mask | (1 << (GROUPS.length - 1 - GROUPS.indexOf(group))), 0)
export const isRolledUp = (row: AggregateRow, group: Group): boolean => (row.rolled_up & maskOf([group])) !== 0

/**
 * The statistics of a measure per bucket, createdBy and groups, plus its rollups, over the
 * threshold: one query. Parts of `aggregates` merge lazily, so states are always re-aggregated.
 * Each grouping set keeps the bucket and createdBy; a rolled-up group reads '' here, and
 * grouping() tells it from a real empty value. Output names differ from the key columns:
 * with GROUPING SETS an alias equal to a key name fails (code 184). Rollups limited to a date
 * range are filtered by their mask's position in the range arrays.
 */
export async function selectAggregates(client: ClickHouseClient, query: AggregateQuery): Promise<AggregateRow[]> {
  const sets: GroupingSet[] = [{ rolledUp: [], fromDate: null, toDate: null }, ...query.rollups]
  const groupingSets = sets
    .map(({ rolledUp }) => `(${['bucket', 'created_by', ...GROUPS.filter((group) => !rolledUp.includes(group))].join(', ')})`)
    .join(', ')
  const result = await client.query({
    query: `
      SELECT
        ${BUCKETS[query.period ?? 'stored']} AS bucket,
        created_by,
        group1,
        group2,
        group3,
        grouping(group1, group2, group3) AS rolled_up,
        sum(count) AS total_count,
        sum(count_not_zero) AS not_zero_count,
        sum(sum) AS total_sum,
        min(min) AS min_value,
        max(max) AS max_value,
        total_sum / total_count AS avg,
        -- The sample variance of a single value is NaN; the API answers 0 there.
        ifNotFinite(sqrt(varSampStableMerge(var_state)), 0) AS std
        ${query.withQuartiles ? ', quantilesExactInclusiveIfMerge(0.25, 0.5, 0.75)(quartiles_state) AS quartiles' : ''}
      FROM aggregates
      WHERE measure_name = {measure:String}
        AND start_date >= {start:DateTime('UTC')}
        AND start_date < {end:DateTime('UTC')}
        AND ({created_by:Nullable(String)} IS NULL OR created_by = {created_by:Nullable(String)})
      GROUP BY GROUPING SETS (${groupingSets})
      HAVING total_count >= {threshold:UInt64}
        AND ifNull(bucket >= {from_dates:Array(Nullable(DateTime('UTC')))}[indexOf({masks:Array(UInt8)}, rolled_up)], true)
        AND ifNull(bucket < {to_dates:Array(Nullable(DateTime('UTC')))}[indexOf({masks:Array(UInt8)}, rolled_up)], true)
      ORDER BY bucket, created_by, grouping(group1), group1, grouping(group2), group2, grouping(group3), group3`,
    query_params: {
      measure: query.measureName,
      start: query.startDate,
      end: query.endDate,
      created_by: query.createdBy,
      threshold: query.threshold,
      masks: sets.map((set) => maskOf(set.rolledUp)),
      from_dates: sets.map((set) => set.fromDate),
      to_dates: sets.map((set) => set.toDate),
    },
    // 1 = rolled up, as maskOf assumes; the engine's default, set so that no server profile can flip it.
    clickhouse_settings: { force_grouping_standard_compatibility: 1 },
    format: 'JSONEachRow',
  })
  return result.json<AggregateRow>()
}
