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
  /** IMPORTED_VERSION for an imported row, 0 otherwise. */
  version: number
}

/**
 * A 32-bit hash of an imported row's key and write instant: a new import of a bucket (the same
 * count, other statistics, or its quartile values attached) writes it again with a later
 * imported_at. XORed over a month, it tells the cache that imported rows changed although their
 * count did not (32 bits: a JSON number on every engine).
 */
const IMPORTED_VERSION =
  'toUInt32(bitAnd(cityHash64(start_date, created_by, group1, group2, group3, duplicate, imported_at), 4294967295))'

/** Per month (`YYYY-MM`): the number of measures, and the XOR of its imported rows' versions. */
export type MonthVersion = { count: number; checksum: number }

/**
 * The statistics of every stored bucket row of a measure in [from, to) (`YYYY-MM-DD hh:mm:ss`):
 * the states re-aggregated (parts merge lazily), with no threshold (periods and rollups merge rows
 * under it, and thresholds apply to the merged rows: src/aggregates/compute.ts), then the buckets
 * imported from the original service (clickhouse/0007), whose final statistics hold no
 * contributors, and their quartile values only where the import could keep them all
 * (clickhouse/0015; else the row is `partial`). Quartile values and contributor ids come as their
 * merged states in hex: a quantileExact state is the varint count then the Float64 values, a
 * uniqExact state of UInt64 the varint count then the ids, both little-endian — ClickHouse's
 * on-disk formats, stable since states are stored in parts. A row of each source may share a key:
 * the caller merges them. With them, per month, the checksum of its imported rows (MonthVersion).
 */
export async function selectStats(
  client: ClickHouseClient,
  measure: string,
  from: string,
  to: string,
  needs: Needs,
): Promise<{ stats: Stat[]; checksums: Map<string, number> }> {
  const result = await client.query({
    query: `
      SELECT start_date, created_by, group1, group2, group3, 0 AS duplicate,
        sum(count) AS count,
        sum(count_not_zero) AS count_not_zero,
        sum(sum) AS sum,
        min(min) AS min,
        max(max) AS max,
        varSampStableMerge(var_state) AS variance,
        NULL AS avg, NULL AS std, NULL AS first_quartile, NULL AS median, NULL AS third_quartile, 0 AS version
        ${needs.values ? ', hex(quantilesExactInclusiveIfMergeState(0.25, 0.5, 0.75)(quartiles_state)) AS values' : ''}
        ${needs.contributors ? ', hex(uniqExactIfMergeState(contributors_state)) AS contributors' : ''}
      FROM aggregates
      WHERE measure_name = {measure:String} AND start_date >= {from:DateTime('UTC')} AND start_date < {to:DateTime('UTC')}
      GROUP BY start_date, created_by, group1, group2, group3
      UNION ALL
      SELECT start_date, created_by, group1, group2, group3, duplicate, count, count_not_zero, sum, min, max,
        NULL, avg, std, first_quartile, median, third_quartile, ${IMPORTED_VERSION}
        ${needs.values ? ', hex(quartiles_state)' : ''}
        ${needs.contributors ? ", '00'" : ''}
      FROM imported_aggregates FINAL
      WHERE measure_name = {measure:String} AND start_date >= {from:DateTime('UTC')} AND start_date < {to:DateTime('UTC')}`,
    query_params: { measure, from, to },
    format: 'JSONEachRow',
  })
  const checksums = new Map<string, number>()
  const stats = (await result.json<StatRow>()).map((row): Stat => {
    const imported = row.avg !== null
    const variance = imported ? row.std! * row.std! : row.variance
    const values = row.values === undefined ? null : [sortedValues(Buffer.from(row.values, 'hex'))]
    if (imported) {
      const month = row.start_date.slice(0, 7)
      checksums.set(month, ((checksums.get(month) ?? 0) ^ row.version) >>> 0)
    }
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
      values,
      contributors: row.contributors === undefined ? null : contributorIds(Buffer.from(row.contributors, 'hex')),
      ...(imported
        ? {
            imported: { avg: row.avg!, std: row.std!, quartiles: importedQuartiles(row) },
            // Its values, kept by the import, are all its measures' or none (clickhouse/0015).
            partial: values === null || values[0].length !== row.count,
          }
        : {}),
    }
  })
  return { stats, checksums }
}

const importedQuartiles = (row: StatRow): [number, number, number] | null =>
  row.first_quartile === null || row.median === null || row.third_quartile === null
    ? null
    : [row.first_quartile, row.median, row.third_quartile]

/**
 * Per month (`YYYY-MM`) of a measure in [from, to), the number of measures, imported buckets
 * included, and the checksum of its imported rows: aggregate states only grow (an insert adds
 * measures, and a measure's deletion takes them all), imported rows are replaced in place; so an
 * unchanged pair tells the cache its rows of that month are current (src/aggregates/cache.ts).
 */
export async function selectMonthVersions(
  client: ClickHouseClient,
  measure: string,
  from: string,
  to: string,
): Promise<Map<string, MonthVersion>> {
  const result = await client.query({
    query: `
      SELECT formatDateTime(start_date, '%Y-%m') AS month, sum(count) AS count, groupBitXor(version) AS checksum
      FROM
      (
        SELECT start_date, count, toUInt32(0) AS version FROM aggregates
        WHERE measure_name = {measure:String} AND start_date >= {from:DateTime('UTC')} AND start_date < {to:DateTime('UTC')}
        UNION ALL
        SELECT start_date, count, ${IMPORTED_VERSION} FROM imported_aggregates FINAL
        WHERE measure_name = {measure:String} AND start_date >= {from:DateTime('UTC')} AND start_date < {to:DateTime('UTC')}
      )
      GROUP BY month`,
    query_params: { measure, from, to },
    format: 'JSONEachRow',
  })
  return new Map(
    (await result.json<{ month: string } & MonthVersion>()).map(({ month, count, checksum }) => [
      month,
      { count, checksum },
    ]),
  )
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
