import type { Readable } from 'node:stream'
import type { ChdbExtension } from 'chdb/connection'
import type { ClickHouseClient } from '../clickhouse/client.ts'
import { sqlString } from './check.ts'
import { clientSession, embeddedSession } from './engine.ts'
import { outputStream } from './run.ts'

/** The formats of `dacc export-public`, as ClickHouse names them. */
export const EXPORT_FORMATS = { parquet: 'Parquet', csv: 'CSVWithNames', jsonl: 'JSONEachRow' } as const
export type ExportFormat = keyof typeof EXPORT_FORMATS

export type ExportOptions = {
  format: ExportFormat
  /** A definition's name: its rows only. */
  measure?: string
  /** Buckets from this instant (`YYYY-MM-DD hh:mm:ss`, inclusive) to that one (exclusive), as /aggregate's startDate and endDate. */
  from?: string
  to?: string
}

/**
 * aggregates_public, as the engine writes it in the chosen format, streamed: `dacc export-public`
 * (in the server when one runs, as the other commands). In Parquet the columns keep their
 * ClickHouse types: start_date a timestamp (UTC), counts unsigned 64-bit integers, the rounded
 * statistics doubles, absent values nulls. Ordered as /aggregate orders its rows.
 */
export async function exportPublic(
  { client, chdb }: { client: ClickHouseClient; chdb?: ChdbExtension },
  { format, measure, from, to }: ExportOptions,
): Promise<Readable> {
  const where = [
    measure === undefined ? undefined : `measure_name = ${sqlString(measure)}`,
    from === undefined ? undefined : `start_date >= toDateTime(${sqlString(from)}, 'UTC')`,
    to === undefined ? undefined : `start_date < toDateTime(${sqlString(to)}, 'UTC')`,
  ].filter(Boolean)
  const statement = `SELECT * FROM aggregates_public${where.length ? ` WHERE ${where.join(' AND ')}` : ''}
ORDER BY measure_name, start_date, created_by, group1, group2, group3`
  const session = chdb ? embeddedSession(chdb) : clientSession(client)
  try {
    // JSON lines: counts as numbers (they stay far below 2^53), as /aggregate writes them.
    const output = session.output(
      statement,
      EXPORT_FORMATS[format],
      'readonly = 1, output_format_json_quote_64bit_integers = 0',
    )
    output.finished.finally(() => session.close()).catch(() => undefined)
    return outputStream(output)
  } catch (err) {
    await session.close()
    throw err
  }
}
