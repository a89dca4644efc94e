import fs from 'node:fs'
import type { ClickHouse } from '../clickhouse/client.ts'
import { COLUMNS, type Segment } from './journal.ts'

/**
 * Inserts a journal segment into raw_measures (the materialized view turns it into aggregate
 * states in the same INSERT). Its name is the deduplication token: inserted again after a crash
 * or a failure, ClickHouse drops every block it already holds, in raw_measures and, through
 * deduplicate_blocks_in_dependent_materialized_views, in aggregates, and writes the rest
 * (clickhouse/0006_journal.sql sets the tables' windows). Blocks are numbered in a
 * deterministic order, which holds since a segment stays within one insert block (see
 * ingest.maxBatchRows in config.ts). The settings go in the statement on the embedded engine,
 * which would keep a client setting for the rest of its session.
 */
export async function insertSegment({ client, mode }: ClickHouse, segment: Segment): Promise<void> {
  const settings = {
    insert_deduplicate: 1,
    insert_deduplication_token: `dacc-journal-${segment.name}`,
    deduplicate_blocks_in_dependent_materialized_views: 1,
  } as const
  if (mode === 'embedded') {
    // The engine reads the file itself: about 7 times cheaper a row than a body passed as text.
    const rendered = Object.entries(settings)
      .map(([name, value]) => `${name} = ${typeof value === 'string' ? `'${value}'` : value}`)
      .join(', ')
    await client.command({
      query: `INSERT INTO raw_measures (${COLUMNS.join(', ')}) SETTINGS ${rendered} SELECT * FROM file({path:String}, 'TabSeparated')`,
      query_params: { path: segment.path },
    })
  } else {
    await client.insert({
      table: 'raw_measures',
      columns: [...COLUMNS],
      format: 'TabSeparated',
      values: fs.createReadStream(segment.path),
      clickhouse_settings: settings,
    })
  }
}

/** For the `between-raw-and-aggregates` crash test only (faults.ts): the view is attached again when the engine next opens. */
export async function detachAggregateView({ client }: Pick<ClickHouse, 'client'>): Promise<void> {
  await client.command({ query: 'DETACH TABLE aggregates_mv' })
}

/**
 * The idempotency keys of raw_measures received within the window, with their receipt times (ms):
 * before the journal, keys were looked up there; a journal new to a store with measures starts from them.
 */
export async function recentIdempotencyKeys(
  client: ClickHouse['client'],
  windowSeconds: number,
): Promise<[string, number][]> {
  const result = await client.query({
    query: `SELECT idempotency_key AS key, toUnixTimestamp64Milli(max(received_at)) AS at FROM raw_measures
            WHERE idempotency_key != '' AND received_at >= now64(3) - toIntervalSecond({window:UInt32})
            GROUP BY key`,
    query_params: { window: windowSeconds },
    format: 'JSONEachRow',
  })
  return (await result.json<{ key: string; at: number }>()).map((row) => [row.key, Number(row.at)])
}
