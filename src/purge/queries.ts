import type { ClickHouseClient } from '../clickhouse/client.ts'

export type PurgeResult = { measureName: string; removed: number }[]

const rows = async <T>(client: ClickHouseClient, query: string, params: Record<string, unknown>) =>
  (await client.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>()

/**
 * Deletes the raw measures of `names` received before `cutoff`. Aggregates never change: the
 * materialized view fires only on INSERT, so neither a dropped partition nor a DELETE reaches
 * the states. A weekly partition that is entirely older and holds only purged measures is dropped
 * whole (cheap); the remainder goes through one lightweight DELETE.
 */
export async function purgeRawMeasures(client: ClickHouseClient, names: string[], cutoff: Date): Promise<PurgeResult> {
  const params = { names, cutoff: cutoff.getTime() / 1000 }
  const counts = await rows<{ measure_name: string; n: number }>(
    client,
    `SELECT measure_name, count() AS n FROM raw_measures
     WHERE measure_name IN {names:Array(String)} AND received_at < toDateTime64({cutoff:Float64}, 3, 'UTC')
     GROUP BY measure_name`,
    params,
  )
  if (counts.length === 0) return names.map((measureName) => ({ measureName, removed: 0 }))
  const partitions = await rows<{ partition: string }>(
    client,
    `SELECT _partition_id AS partition FROM raw_measures GROUP BY partition
     HAVING max(received_at) < toDateTime64({cutoff:Float64}, 3, 'UTC')
        AND hasAll({names:Array(String)}, groupUniqArray(measure_name))`,
    params,
  )
  for (const { partition } of partitions) {
    // The partition id comes from ClickHouse itself (system-generated digits), never from input.
    await client.command({ query: `ALTER TABLE raw_measures DROP PARTITION ID '${partition.replace(/[^0-9a-z_-]/gi, '')}'` })
  }
  await client.command({
    query: `DELETE FROM raw_measures
            WHERE measure_name IN {names:Array(String)} AND received_at < toDateTime64({cutoff:Float64}, 3, 'UTC')`,
    query_params: params,
  })
  const removed = new Map(counts.map((row) => [row.measure_name, row.n]))
  return names.map((measureName) => ({ measureName, removed: removed.get(measureName) ?? 0 }))
}

/** Raw measures currently kept, per measure. */
export async function rawCounts(client: ClickHouseClient): Promise<Map<string, number>> {
  const result = await rows<{ measure_name: string; n: number }>(client, 'SELECT measure_name, count() AS n FROM raw_measures GROUP BY measure_name', {})
  return new Map(result.map((row) => [row.measure_name, row.n]))
}
