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
  count: number
  count_not_zero: number
  sum: number
  min: number
  max: number
  /** NaN (JSON null) for a single value. */
  variance: number | null
  values?: string
  contributors?: string
}

/**
 * The statistics of every stored bucket row of a measure in [from, to) (`YYYY-MM-DD hh:mm:ss`):
 * the states re-aggregated (parts merge lazily), with no threshold (periods and rollups merge rows
 * under it, and thresholds apply to the merged rows: src/aggregates/compute.ts). Quartile values
 * and contributor ids come as their merged states in hex: a quantileExact state is the varint
 * count then the Float64 values, a uniqExact state of UInt64 the varint count then the ids, both
 * little-endian — ClickHouse's on-disk formats, stable since states are stored in parts.
 */
export async function selectStats(client: ClickHouseClient, measure: string, from: string, to: string, needs: Needs): Promise<Stat[]> {
  const result = await client.query({
    query: `
      SELECT start_date, created_by, group1, group2, group3,
        sum(count) AS count,
        sum(count_not_zero) AS count_not_zero,
        sum(sum) AS sum,
        min(min) AS min,
        max(max) AS max,
        varSampStableMerge(var_state) AS variance
        ${needs.values ? ', hex(quantilesExactInclusiveIfMergeState(0.25, 0.5, 0.75)(quartiles_state)) AS values' : ''}
        ${needs.contributors ? ', hex(uniqExactIfMergeState(contributors_state)) AS contributors' : ''}
      FROM aggregates
      WHERE measure_name = {measure:String} AND start_date >= {from:DateTime('UTC')} AND start_date < {to:DateTime('UTC')}
      GROUP BY start_date, created_by, group1, group2, group3`,
    query_params: { measure, from, to },
    format: 'JSONEachRow',
  })
  return (await result.json<StatRow>()).map((row) => ({
    startDate: row.start_date,
    createdBy: row.created_by,
    group1: row.group1,
    group2: row.group2,
    group3: row.group3,
    count: row.count,
    countNotZero: row.count_not_zero,
    sum: row.sum,
    min: row.min,
    max: row.max,
    mean: row.sum / row.count,
    m2: row.count > 1 && row.variance !== null ? row.variance * (row.count - 1) : 0,
    values: row.values === undefined ? null : [sortedValues(Buffer.from(row.values, 'hex'))],
    contributors: row.contributors === undefined ? null : contributorIds(Buffer.from(row.contributors, 'hex')),
  }))
}

/**
 * The number of measures per month (`YYYY-MM`) of a measure in [from, to): counts only grow, so an
 * unchanged total tells the cache its rows of that month are current (src/aggregates/cache.ts).
 */
export async function selectMonthCounts(client: ClickHouseClient, measure: string, from: string, to: string): Promise<Map<string, number>> {
  const result = await client.query({
    query: `
      SELECT formatDateTime(start_date, '%Y-%m') AS month, sum(count) AS count
      FROM aggregates
      WHERE measure_name = {measure:String} AND start_date >= {from:DateTime('UTC')} AND start_date < {to:DateTime('UTC')}
      GROUP BY month`,
    query_params: { measure, from, to },
    format: 'JSONEachRow',
  })
  return new Map((await result.json<{ month: string; count: number }>()).map((row) => [row.month, row.count]))
}

function readVarUInt(buffer: Buffer): { value: number; offset: number } {
  let value = 0
  let shift = 0
  let offset = 0
  for (;;) {
    const byte = buffer[offset++]
    value += (byte & 0x7f) * 2 ** shift
    if (byte < 0x80) return { value, offset }
    shift += 7
  }
}

function sortedValues(state: Buffer): Float64Array {
  const { value: count, offset } = readVarUInt(state)
  const values = new Float64Array(count)
  for (let index = 0; index < count; index++) values[index] = state.readDoubleLE(offset + index * 8)
  return values.sort()
}

function contributorIds(state: Buffer): Set<bigint> {
  const { value: count, offset } = readVarUInt(state)
  const ids = new Set<bigint>()
  for (let index = 0; index < count; index++) ids.add(state.readBigUInt64LE(offset + index * 8))
  return ids
}
