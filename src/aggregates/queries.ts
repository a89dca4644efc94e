import type { ClickHouseClient } from '../clickhouse/client.ts'
import { GROUPS, type Group } from '../definitions/schema.ts'

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
  /** grouping(group1, group2, group3): see isRolledUp. */
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
  /** [first quartile, median, third quartile]; only when asked for, null where no quartile state was kept. */
  quartiles?: [number | null, number | null, number | null]
  /** Distinct contributors; only when the threshold counts them. */
  contributors?: number | null
}

/** grouping() of several columns is a bit mask, the first column the most significant bit, 1 = rolled up. */
export const maskOf = (groups: Group[]) => groups.reduce((mask, group) => mask | (1 << (GROUPS.length - 1 - GROUPS.indexOf(group))), 0)
export const isRolledUp = (row: AggregateRow, group: Group): boolean => (row.rolled_up & maskOf([group])) !== 0

/**
 * The statistics of a measure per bucket, createdBy and groups, plus its rollups, over the
 * threshold: one query. Parts of `aggregates` merge lazily, so states are always re-aggregated.
 * Each grouping set keeps the bucket and createdBy; a rolled-up group reads '' here, and
 * grouping() tells it from a real empty value. Output names differ from the key columns:
 * with GROUPING SETS an alias equal to a key name fails (code 184). Rollups limited to a date
 * range are filtered by their mask's position in the range arrays. A row under the threshold
 * never brings its statistics out of the database: it is left out, or with `keepHidden` kept as
 * its keys alone, so that suppression can tell which rows are hidden.
 */
export async function selectAggregates(client: ClickHouseClient, query: AggregateQuery): Promise<AggregateRow[]> {
  const sets: GroupingSet[] = [{ rolledUp: [], fromDate: null, toDate: null }, ...query.rollups]
  const groupingSets = sets
    .map(({ rolledUp }) => `(${['bucket', 'created_by', ...GROUPS.filter((group) => !rolledUp.includes(group))].join(', ')})`)
    .join(', ')
  const contributors = query.thresholdOn === 'contributors'
  // Most answers have no rollup: a plain GROUP BY (and a HAVING without the rollups' date
  // ranges) makes the engine's work about a third cheaper (measured); same rows, same order.
  const rollups = query.rollups.length > 0
  const ranged = query.rollups.some((set) => set.fromDate !== null || set.toDate !== null)
  const result = await client.query({
    query: `
      SELECT
        ${BUCKETS[query.period ?? 'stored']} AS bucket,
        created_by,
        group1,
        group2,
        group3,
        ${rollups ? 'grouping(group1, group2, group3)' : '0'} AS rolled_up,
        ${contributors ? 'uniqExactIfMerge(contributors_state)' : 'sum(count)'} >= {threshold:UInt64} AS shown,
        if(shown, sum(count), NULL) AS total_count,
        if(shown, sum(count_not_zero), NULL) AS not_zero_count,
        if(shown, sum(sum), NULL) AS total_sum,
        if(shown, min(min), NULL) AS min_value,
        if(shown, max(max), NULL) AS max_value,
        total_sum / total_count AS avg,
        -- The sample variance of a single value is NaN; the API answers 0 there.
        if(shown, ifNotFinite(sqrt(varSampStableMerge(var_state)), 0), NULL) AS std
        ${query.withQuartiles ? ', if(shown, quantilesExactInclusiveIfMerge(0.25, 0.5, 0.75)(quartiles_state), []) AS quartiles' : ''}
        ${contributors ? ', if(shown, uniqExactIfMerge(contributors_state), NULL) AS contributors' : ''}
      FROM aggregates
      WHERE measure_name = {measure:String}
        AND start_date >= {start:DateTime('UTC')}
        AND start_date < {end:DateTime('UTC')}
        AND ({created_by:Nullable(String)} IS NULL OR created_by = {created_by:Nullable(String)})
      GROUP BY ${rollups ? `GROUPING SETS (${groupingSets})` : 'bucket, created_by, group1, group2, group3'}
      HAVING (shown OR {keep_hidden:Bool})
        ${ranged ? `AND ifNull(bucket >= {from_dates:Array(Nullable(DateTime('UTC')))}[indexOf({masks:Array(UInt8)}, rolled_up)], true)
        AND ifNull(bucket < {to_dates:Array(Nullable(DateTime('UTC')))}[indexOf({masks:Array(UInt8)}, rolled_up)], true)` : ''}
      ORDER BY bucket, created_by, ${rollups ? 'grouping(group1), group1, grouping(group2), group2, grouping(group3), group3' : 'group1, group2, group3'}`,
    query_params: {
      measure: query.measureName,
      start: query.startDate,
      end: query.endDate,
      created_by: query.createdBy,
      threshold: query.threshold,
      keep_hidden: query.keepHidden,
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
