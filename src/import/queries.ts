import { Readable } from 'node:stream'
import { finished } from 'node:stream/promises'
import type { ClickHouseClient } from '../clickhouse/client.ts'
import { localTarget } from '../clickhouse/cluster.ts'
import { rows } from '../clickhouse/rows.ts'
import { BUCKET_COLUMNS, RAW_COLUMNS } from './mapping.ts'

// The ClickHouse side of dacc import-original, run as operations (src/ops/operations.ts): in the
// CLI, or in a running `dacc serve` that holds the embedded data directory. Rows come as
// JSONCompactEachRow text, made by the CLI (src/import/mapping.ts), and go to ClickHouse as an
// INSERT's body; per-insert settings are in the statement (the embedded engine would keep a client
// setting for the rest of its session).

const TABLES = ['raw_measures', 'aggregates', 'imported_aggregates']

/**
 * The measures among `names` of which ClickHouse holds anything (raw measures, aggregate states,
 * imported buckets), and whether the schema has the import's columns yet (a dry run does not migrate).
 */
export async function importTargetState(
  client: ClickHouseClient,
  names: string[],
): Promise<{ withData: string[]; migrated: boolean }> {
  const existing = await rows<{ name: string }>(
    client,
    'SELECT name FROM system.tables WHERE database = currentDatabase() AND name IN {tables:Array(String)}',
    { tables: TABLES },
  )
  const tables = TABLES.filter((table) => existing.some((row) => row.name === table))
  const columns = await rows<{ n: number }>(
    client,
    "SELECT count() AS n FROM system.columns WHERE database = currentDatabase() AND table = 'raw_measures' AND name = 'original_id'",
    {},
  )
  if (tables.length === 0 || names.length === 0) return { withData: [], migrated: columns[0].n > 0 }
  // Identifiers from the fixed list above only.
  const union = tables
    .map((table) => `SELECT DISTINCT measure_name FROM ${table} WHERE measure_name IN {names:Array(String)}`)
    .join(' UNION DISTINCT ')
  const withData = await rows<{ measure_name: string }>(
    client,
    `SELECT measure_name FROM (${union}) ORDER BY measure_name`,
    { names },
  )
  return { withData: withData.map((row) => row.measure_name), migrated: columns[0].n > 0 }
}

/** The original ids above `above` of a measure's raw rows already imported (a run that stopped half-way, or rows above the mark). */
export async function importedRawIds(client: ClickHouseClient, measure: string, above: number): Promise<number[]> {
  const result = await rows<{ id: number }>(
    client,
    'SELECT original_id AS id FROM raw_measures WHERE measure_name = {measure:String} AND original_id > {above:UInt64}',
    { measure, above },
  )
  return result.map((row) => Number(row.id))
}

/**
 * Deletes a measure's imported buckets, before they are imported again whole (an import that
 * stopped half-way through them): a mutation, done when this returns (mutations_sync = 2).
 */
export async function clearImportedBuckets(client: ClickHouseClient, measure: string, cluster: string): Promise<void> {
  const [{ n }] = await rows<{ n: number }>(
    client,
    'SELECT count() AS n FROM imported_aggregates WHERE measure_name = {measure:String}',
    { measure },
  )
  if (n === 0) return
  await client.command({
    query: `ALTER TABLE ${localTarget('imported_aggregates', cluster)} DELETE WHERE measure_name = {measure:String} SETTINGS mutations_sync = 2`,
    query_params: { measure },
  })
}

/** Inserts imported_aggregates rows (BUCKET_COLUMNS): a bucket imported again replaces its row (ReplacingMergeTree). */
export async function insertImportedBuckets(client: ClickHouseClient, rows: string): Promise<void> {
  await insert(client, `INSERT INTO imported_aggregates (${BUCKET_COLUMNS.join(', ')}) FORMAT JSONCompactEachRow`, rows)
}

/**
 * Inserts raw_measures rows (RAW_COLUMNS); the aggregate view counts those not in_imported_aggregates.
 * `token` names the chunk (src/import/chunks.ts): inserted again, its blocks already in a table are dropped.
 */
export async function insertImportedRaw(client: ClickHouseClient, rows: string, token: string): Promise<void> {
  await insert(
    client,
    `INSERT INTO raw_measures (${RAW_COLUMNS.join(', ')})
     SETTINGS insert_deduplicate = 1, insert_deduplication_token = '${token}', deduplicate_blocks_in_dependent_materialized_views = 1
     FORMAT JSONCompactEachRow`,
    rows,
  )
}

/**
 * Keeps, with each imported bucket of `measure` whose raw measures are all in raw_measures (those
 * the original had counted in it, imported with in_imported_aggregates), the quartile state of
 * their values (clickhouse/0015): the bucket's row is written again with it, replacing the one
 * without (ReplacingMergeTree). All of them: as many as the bucket counts, none of a bucket whose
 * raw measures the original purged (some may have been, and others refused since), none of a key
 * the original kept several rows for (its defect: which row counted which measure is unknown).
 * Buckets that already have them are left as they are. Returns how many buckets of the measure
 * have their values, and how many do not.
 */
export async function keepImportedValues(
  client: ClickHouseClient,
  measure: string,
): Promise<{ kept: number; without: number }> {
  const key = (table: string) =>
    ['start_date', 'created_by', 'group1', 'group2', 'group3'].map((column) => `${table}.${column}`).join(', ')
  const columns = BUCKET_COLUMNS.filter((column) => column !== 'imported_at')
  // GLOBAL: on a cluster both sides read Distributed tables; the right one is computed once, here.
  await client.command({
    query: `
      INSERT INTO imported_aggregates (${columns.join(', ')}, quartiles_state, imported_at)
      SELECT ${columns.map((column) => `i.${column}`).join(', ')}, r.state, now64(3)
      FROM (SELECT * FROM imported_aggregates FINAL WHERE measure_name = {measure:String}) AS i
      GLOBAL INNER JOIN
      (
        SELECT start_date, created_by, group1, group2, group3, countIf(with_quartiles) AS n,
          quantilesExactInclusiveStateIf(0.25, 0.5, 0.75)(value, with_quartiles) AS state
        FROM raw_measures
        WHERE measure_name = {measure:String} AND in_imported_aggregates
        GROUP BY start_date, created_by, group1, group2, group3
      ) AS r ON (${key('i')}) = (${key('r')})
      WHERE i.duplicate = 0 AND NOT i.raw_purged AND r.n = i.count AND hex(i.quartiles_state) = '00'
        AND (${key('i')}) GLOBAL NOT IN
          (SELECT start_date, created_by, group1, group2, group3 FROM imported_aggregates FINAL
           WHERE measure_name = {measure:String} AND duplicate > 0)`,
    query_params: { measure },
  })
  const [counts] = await rows<{ kept: number; without: number }>(
    client,
    `SELECT countIf(hex(quartiles_state) != '00') AS kept, countIf(hex(quartiles_state) = '00') AS without
     FROM imported_aggregates FINAL WHERE measure_name = {measure:String}`,
    { measure },
  )
  return { kept: Number(counts.kept), without: Number(counts.without) }
}

async function insert(client: ClickHouseClient, query: string, body: string): Promise<void> {
  const { stream } = await client.exec({ query, values: Readable.from([body]) })
  // The answer is empty; reading it to its end frees the connection.
  stream.resume()
  await finished(stream)
}
