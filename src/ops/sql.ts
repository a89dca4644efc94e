import type { Readable } from 'node:stream'
import type { ChdbExtension } from 'chdb/connection'
import type { ClickHouseClient } from '../clickhouse/client.ts'
import { UsageError } from '../errors.ts'
import { clientSession, embeddedSession, type SqlSession } from '../sql/engine.ts'
import { SqlError } from '../sql/errors.ts'
import { outputStream, startQuery } from '../sql/run.ts'

/** What `dacc sql` reads back: a JSON array a line, the column names, their types, then each row. */
export const SQL_OUTPUT_FORMAT = 'JSONCompactEachRowWithNamesAndTypes'

/**
 * Runs a data engineer's query for `dacc sql`, read-only, on the DACC database only, with the
 * checks of src/sql/check.ts (the HTTP interface's, for a sql:raw token), and streams its rows:
 * a result of any size goes through without being held in memory. `maxRows`, when given,
 * refuses a larger result. On the embedded engine the query runs on the caller's own session
 * (the CLI's, in a server), through a FIFO of its own (src/sql/engine.ts).
 */
export async function readOnlyQuery(
  { client, chdb }: { client: ClickHouseClient; chdb?: ChdbExtension },
  query: string,
  maxRows?: number,
): Promise<Readable> {
  if (maxRows !== undefined && (!Number.isSafeInteger(maxRows) || maxRows < 1))
    throw new UsageError(`the row limit must be a positive whole number, got: ${maxRows}`)
  const database = await currentDatabase(client)
  const session: SqlSession = chdb ? embeddedSession(chdb) : clientSession(client)
  const rowLimit = maxRows ? `, max_result_rows = ${maxRows}, result_overflow_mode = 'throw'` : ''
  try {
    const { output } = await startQuery(session, query, {
      policy: { access: 'raw', database, where: 'dacc sql', formatClause: false, limits: '' },
      format: SQL_OUTPUT_FORMAT,
      // Numbers as JSON numbers, as they print: counts stay far below 2^53.
      settings: `readonly = 1, output_format_json_quote_64bit_integers = 0${rowLimit}`,
    })
    const finished = output.finished.catch((err: unknown) => Promise.reject(told(err, maxRows)))
    finished.finally(() => session.close()).catch(() => undefined)
    return outputStream({ ...output, finished })
  } catch (err) {
    await session.close()
    throw err
  }
}

/** What the engine refused while running, as dacc sql tells it. */
function told(err: unknown, maxRows: number | undefined): unknown {
  if (!(err instanceof SqlError)) return err
  if (err.type === 'READONLY') return new UsageError(`refused, dacc sql is read-only: ${err.message}`)
  if (err.type === 'TOO_MANY_ROWS_OR_BYTES')
    return new UsageError(`the result has more than ${maxRows} rows: narrow the query, or raise --max-rows`)
  return err
}

async function currentDatabase(client: ClickHouseClient): Promise<string> {
  const result = await client.query({ query: 'SELECT currentDatabase() AS name', format: 'JSONEachRow' })
  return (await result.json<{ name: string }>())[0].name
}
