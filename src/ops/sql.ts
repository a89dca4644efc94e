import type { ClickHouseClient } from '../clickhouse/client.ts'
import { firstLine } from '../errors.ts'
import { UsageError } from '../errors.ts'

export type QueryResult = { columns: { name: string; type: string }[]; rows: unknown[][] }

/** The statements `dacc sql` runs, as ClickHouse's formatter writes their first word. */
const READ_ONLY = ['SELECT', 'WITH', 'SHOW', 'DESCRIBE', 'EXPLAIN', 'EXISTS']

/**
 * Runs a data engineer's query, read-only. ClickHouse's own parser reads it first (formatQuery:
 * exactly one statement, normalised, comments dropped, literals escaped onto one line), which
 * refuses a write with a clear message; then that statement runs with `readonly = 1`, so
 * ClickHouse itself refuses any write that got past the check. The setting is a SETTINGS clause
 * of the statement: the embedded engine turns a client setting into a SET, which would leave its
 * whole session (the server's) read-only. INTO OUTFILE is refused, as the embedded engine would
 * write that file even read-only; `maxRows` keeps a large result from filling the memory of the
 * server that runs the query for the CLI.
 */
export async function readOnlyQuery(client: ClickHouseClient, query: string, maxRows: number): Promise<QueryResult> {
  if (!Number.isSafeInteger(maxRows) || maxRows < 1) throw new UsageError(`the row limit must be a positive whole number, got: ${maxRows}`)
  const statement = await formatted(client, query)
  const kind = statement.split(/\s/, 1)[0]
  if (!READ_ONLY.includes(kind)) throw new UsageError(`only read-only queries run here (${READ_ONLY.join(', ')}), got: ${kind}`)
  if (/^INTO OUTFILE\b/m.test(statement)) throw new UsageError('INTO OUTFILE is not allowed: redirect the output instead')
  if (/^FORMAT\b/m.test(statement)) throw new UsageError('a FORMAT clause is not allowed: choose the output with --format')
  try {
    const result = await client.query({
      query: `${statement}\nSETTINGS readonly = 1, max_result_rows = ${maxRows}, result_overflow_mode = 'throw'`,
      format: 'JSONCompact',
    })
    const { meta = [], data } = await result.json<unknown[]>()
    return { columns: meta.map(({ name, type }) => ({ name, type })), rows: data }
  } catch (err) {
    // The embedded engine keeps what a query that failed while running had begun to write, and
    // hands it to the session's next query: a throwaway query takes it.
    await client.command({ query: 'SELECT 1' }).catch(() => undefined)
    if ((err as { type?: string }).type === 'READONLY') throw new UsageError(`refused, dacc sql is read-only: ${firstLine(err)}`)
    throw err
  }
}

async function formatted(client: ClickHouseClient, query: string): Promise<string> {
  try {
    const result = await client.query({ query: 'SELECT formatQuery({query:String}) AS statement', query_params: { query }, format: 'JSONEachRow' })
    const [row] = await result.json<{ statement: string }>()
    return row.statement
  } catch (err) {
    // The parser's message, without the wrapping query it was reported in.
    throw new UsageError(firstLine(err).replace(/[.:\s]*In scope SELECT formatQuery.*$/, ''))
  }
}
