import type { ClickHouseClient } from '../clickhouse/client.ts'
import type { MeasureRow } from './schema.ts'

/** What one request queues: its rows, and its idempotency key ('' without one). */
export type Queued = { rows: MeasureRow[]; idempotencyKey: string }

// The order of MeasureRow, then received_at and idempotency_key.
const RAW_COLUMNS = ['measure_name', 'start_date', 'created_by', 'group1', 'group2', 'group3', 'value', 'with_quartiles', 'contributor', 'received_at', 'idempotency_key']

/**
 * The batch with each row's contributor pseudonym replaced by `idOf(pseudonym)`, the keyed hash
 * raw_measures.contributor stores: what the batcher writes, so no pseudonym reaches ClickHouse.
 */
export function withContributorIds(batch: Queued[], idOf: (pseudonym: string) => string): Queued[] {
  // An instance sends its many measures under one pseudonym: one HMAC each per batch.
  const ids = new Map<string, string>()
  const idOnce = (pseudonym: string) => ids.get(pseudonym) ?? ids.set(pseudonym, idOf(pseudonym)).get(pseudonym)!
  return batch.map((queued) => ({ ...queued, rows: queued.rows.map((row) => row.with(8, idOnce(row[8])) as MeasureRow) }))
}

/**
 * One INSERT for a whole batch; the materialized view turns it into aggregate states in the same
 * statement, so when this resolves the measures count in /aggregate. Compact JSON rows: about half
 * the bytes of JSONEachRow to build and parse.
 */
export async function insertMeasures(client: ClickHouseClient, batch: Queued[], receivedAt = new Date()): Promise<void> {
  const received = receivedAt.toISOString().slice(0, 23).replace('T', ' ')
  await client.insert({
    table: 'raw_measures',
    columns: RAW_COLUMNS as [string, ...string[]],
    format: 'JSONCompactEachRow',
    values: batch.flatMap(({ rows, idempotencyKey }) => rows.map((row) => [...row, received, idempotencyKey])),
  })
}

/** The keys among `keys` of measures received in the last `windowSeconds`. */
export async function storedIdempotencyKeys(client: ClickHouseClient, keys: string[], windowSeconds: number): Promise<Set<string>> {
  const result = await client.query({
    query: `SELECT DISTINCT idempotency_key AS key FROM raw_measures
            WHERE idempotency_key IN {keys:Array(String)} AND received_at >= now64(3) - toIntervalSecond({window:UInt32})`,
    query_params: { keys, window: windowSeconds },
    format: 'JSONEachRow',
  })
  return new Set((await result.json<{ key: string }>()).map((row) => row.key))
}
