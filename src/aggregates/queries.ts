import type { ClickHouseClient } from '../clickhouse/client.ts'
import type { Stat } from './stats.ts'

/** What to read beside the additive statistics: quartile values, contributor ids. */
export type Needs = { values: boolean; contributors: boolean }

type StatRow = {
  start_date: string
  created_by: string
  group1: string
  group2: string
  group3: string
  duplicate: number
  count: number
  count_not_zero: number
  sum: number
  min: number
  max: number
  /** NaN (JSON null) for a single value; null for an imported row. */
  variance: number | null
  /** Set for an imported row only. */
  avg: number | null
  std: number | null
  first_quartile: number | null
  median: number | null
  third_quartile: number | null
  values?: string
  contributors?: string
}

/**
 * The statistics of every stored bucket row of a measure in [from, to) (`YYYY-MM-DD hh:mm:ss`):
 * the states re-aggregated (parts merge lazily), with no threshold (periods and rollups merge rows
 * under it, and thresholds apply to the merged rows: src/aggregates/compute.ts), then the buckets
 * imported from the original service (clickhouse/0007), whose final statistics hold no values
 * and no contributors. Quartile values and contributor ids come as their merged states in hex: a
 * quantileExact state is the varint count then the Float64 values, a uniqExact state of UInt64 the
 * varint count then the ids, both little-endian — ClickHouse's on-disk formats, stable since
 * states are stored in parts. A row of each source may share a key: the caller merges them.
 */
export async function selectStats(
  client: ClickHouseClient,
  measure: string,
  from: string,
  to: string,
  needs: Needs,
): Promise<Stat[]> {
  const result = await client.query({
    query: `
      SELECT start_date, created_by, group1, group2, group3, 0 AS duplicate,
        sum(count) AS count,
        sum(count_not_zero) AS count_not_zero,
        sum(sum) AS sum,
        min(min) AS min,
        max(max) AS max,
        varSampStableMerge(var_state) AS variance,
        NULL AS avg, NULL AS std, NULL AS first_quartile, NULL AS median, NULL AS third_quartile
        ${needs.values ? ', hex(quantilesExactInclusiveIfMergeState(0.25, 0.5, 0.75)(quartiles_state)) AS values' : ''}
        ${needs.contributors ? ', hex(uniqExactIfMergeState(contributors_state)) AS contributors' : ''}
      FROM aggregates
      WHERE measure_name = {measure:String} AND start_date >= {from:DateTime('UTC')} AND start_date < {to:DateTime('UTC')}
      GROUP BY start_date, created_by, group1, group2, group3
      UNION ALL
      SELECT start_date, created_by, group1, group2, group3, duplicate, count, count_not_zero, sum, min, max,
        NULL, avg, std, first_quartile, median, third_quartile
        ${needs.values ? ", '00'" : ''}
        ${needs.contributors ? ", '00'" : ''}
      FROM imported_aggregates FINAL
      WHERE measure_name = {measure:String} AND start_date >= {from:DateTime('UTC')} AND start_date < {to:DateTime('UTC')}`,
    query_params: { measure, from, to },
    format: 'JSONEachRow',
  })
  return (await result.json<StatRow>()).map((row) => {
    const imported = row.avg !== null
    const variance = imported ? row.std! * row.std! : row.variance
    return {
      startDate: row.start_date,
      createdBy: row.created_by,
      group1: row.group1,
      group2: row.group2,
      group3: row.group3,
      ...(row.duplicate > 0 ? { duplicate: row.duplicate } : {}),
      count: row.count,
      countNotZero: row.count_not_zero,
      sum: row.sum,
      min: row.min,
      max: row.max,
      mean: row.sum / row.count,
      m2: row.count > 1 && variance !== null ? variance * (row.count - 1) : 0,
      values: row.values === undefined ? null : [sortedValues(Buffer.from(row.values, 'hex'))],
      contributors: row.contributors === undefined ? null : contributorIds(Buffer.from(row.contributors, 'hex')),
      ...(imported ? { imported: { avg: row.avg!, std: row.std!, quartiles: importedQuartiles(row) } } : {}),
    }
  })
}

const importedQuartiles = (row: StatRow): [number, number, number] | null =>
  row.first_quartile === null || row.median === null || row.third_quartile === null
    ? null
    : [row.first_quartile, row.median, row.third_quartile]

/**
 * The number of measures per month (`YYYY-MM`) of a measure in [from, to), imported buckets
 * included: counts only grow, so an unchanged total tells the cache its rows of that month are
 * current (src/aggregates/cache.ts).
 */
export async function selectMonthCounts(
  client: ClickHouseClient,
  measure: string,
  from: string,
  to: string,
): Promise<Map<string, number>> {
  const result = await client.query({
    query: `
      SELECT formatDateTime(start_date, '%Y-%m') AS month, sum(count) AS count
      FROM
      (
        SELECT start_date, count FROM aggregates
        WHERE measure_name = {measure:String} AND start_date >= {from:DateTime('UTC')} AND start_date < {to:DateTime('UTC')}
        UNION ALL
        SELECT start_date, count FROM imported_aggregates FINAL
        WHERE measure_name = {measure:String} AND start_date >= {from:DateTime('UTC')} AND start_date < {to:DateTime('UTC')}
      )
      GROUP BY month`,
    query_params: { measure, from, to },
    format: 'JSONEachRow',
  })
  return new Map((await result.json<{ month: string; count: number }>()).map((row) => [row.month, row.count]))
}

/**
 * A state's leading count (a varint) and where its items start, checked against the state's
 * length: a state cut short (or not of this layout) is an error, never a loop past its end.
 */
function countOf(state: Buffer, itemBytes: number): { count: number; offset: number } {
  let count = 0
  for (let offset = 0, shift = 0; offset < Math.min(state.length, 10); shift += 7) {
    const byte = state[offset++]
    count += (byte & 0x7f) * 2 ** shift
    if (byte < 0x80) {
      if (state.length !== offset + count * itemBytes)
        throw new Error(`an aggregate state of ${state.length} bytes cannot hold the ${count} items it counts`)
      return { count, offset }
    }
  }
  throw new Error('an aggregate state ends inside its count')
}

/** The values of a quantileExact state (a varint count, then Float64s), sorted. */
export function sortedValues(state: Buffer): Float64Array {
  const { count, offset } = countOf(state, 8)
  const values = new Float64Array(count)
  for (let index = 0; index < count; index++) values[index] = state.readDoubleLE(offset + index * 8)
  return values.sort()
}

/** The ids of a uniqExact state of UInt64 (a varint count, then the ids). */
export function contributorIds(state: Buffer): Set<bigint> {
  const { count, offset } = countOf(state, 8)
  const ids = new Set<bigint>()
  for (let index = 0; index < count; index++) ids.add(state.readBigUInt64LE(offset + index * 8))
  return ids
}
