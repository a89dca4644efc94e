import type { ClickHouseClient } from '../clickhouse/client.ts'
import { localSource, localTarget } from '../clickhouse/cluster.ts'
import { rows } from '../clickhouse/rows.ts'

export type PurgeResult = { measureName: string; removed: number }[]

/** All these queries need of a client, so that tests can capture the statements of cluster mode. */
export type Queries = Pick<ClickHouseClient, 'query' | 'command'>

/**
 * Deletes the raw measures of `names` received before `cutoff`. Aggregates never change: the
 * materialized view fires only on INSERT, so neither a dropped partition nor a DELETE reaches
 * the states. A weekly partition that is entirely older and holds only purged measures is dropped
 * whole (cheap); the remainder goes through one lightweight DELETE. On a cluster both go to the
 * shard-local tables, and the partitions are judged over every shard (see cluster.ts).
 */
export async function purgeRawMeasures(
  client: Queries,
  names: string[],
  cutoff: Date,
  cluster = '',
): Promise<PurgeResult> {
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
    `SELECT _partition_id AS partition FROM ${localSource('raw_measures', cluster)} GROUP BY partition
     HAVING max(received_at) < toDateTime64({cutoff:Float64}, 3, 'UTC')
        AND hasAll({names:Array(String)}, groupUniqArray(measure_name))`,
    params,
  )
  for (const { partition } of partitions) {
    // The partition id comes from ClickHouse itself (system-generated digits), never from input.
    const id = partition.replace(/[^0-9a-z_-]/gi, '')
    await client.command({ query: `ALTER TABLE ${localTarget('raw_measures', cluster)} DROP PARTITION ID '${id}'` })
  }
  await client.command({
    query: `DELETE FROM ${localTarget('raw_measures', cluster)}
            WHERE measure_name IN {names:Array(String)} AND received_at < toDateTime64({cutoff:Float64}, 3, 'UTC')`,
    query_params: params,
  })
  const removed = new Map(counts.map((row) => [row.measure_name, row.n]))
  return names.map((measureName) => ({ measureName, removed: removed.get(measureName) ?? 0 }))
}

/** Raw measures currently kept, per measure. */
export async function rawCounts(client: Queries): Promise<Map<string, number>> {
  const result = await rows<{ measure_name: string; n: number }>(
    client,
    'SELECT measure_name, count() AS n FROM raw_measures GROUP BY measure_name',
    {},
  )
  return new Map(result.map((row) => [row.measure_name, row.n]))
}

export type DeletedData = { rawMeasures: number; aggregatedMeasures: number }

/**
 * Deletes all ClickHouse holds of one measure (`dacc definitions delete --purge-data`): its raw
 * measures, as a purge of everything received so far, its aggregate states and the buckets imported
 * from the original service (clickhouse/0007). Those go through
 * a mutation (ALTER TABLE ... DELETE) rather than a lightweight DELETE: removing a whole measure is
 * rare and final, and a mutation rewrites the parts now, freeing the space, where a lightweight
 * delete only masks the rows until merges. mutations_sync = 2 returns once every replica applied
 * it; it is a SETTINGS clause because the embedded engine would keep a client setting for the rest
 * of the session.
 */
export async function deleteMeasureData(client: Queries, name: string, cluster = ''): Promise<DeletedData> {
  const [aggregated] = await rows<{ n: number }>(
    client,
    `SELECT (SELECT sum(count) FROM aggregates WHERE measure_name = {name:String}) + (SELECT sum(count) FROM imported_aggregates FINAL WHERE measure_name = {name:String}) AS n`,
    { name },
  )
  const [raw] = await purgeRawMeasures(client, [name], new Date(), cluster)
  for (const table of ['aggregates', 'imported_aggregates']) {
    await client.command({
      query: `ALTER TABLE ${localTarget(table, cluster)} DELETE WHERE measure_name = {name:String} SETTINGS mutations_sync = 2`,
      query_params: { name },
    })
  }
  return { rawMeasures: raw.removed, aggregatedMeasures: aggregated.n }
}
