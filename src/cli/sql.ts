import type { CAC } from 'cac'
import { UsageError } from '../errors.ts'
import { loadConfigOf, plural, wholeNumber, type GlobalOptions } from './common.ts'
import { formatTable } from './table.ts'

type SqlOptions = GlobalOptions & { format: unknown; maxRows: unknown }

/** `dacc sql "<query>"`: read-only queries for data engineers (see ops/sql.ts for how it is enforced). */
export function addSqlCommand(cli: CAC): void {
  cli
    .command(
      'sql <query>',
      'Run a read-only query (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, EXISTS) on ClickHouse and print the result',
    )
    .option('--format <format>', 'table: aligned text; json: one JSON object per row, a line each (JSON lines)', {
      default: 'table',
    })
    .option('--max-rows <rows>', 'refuse a result of more rows', { default: 10000 })
    .action(async (query: string, options: SqlOptions) => {
      const format = String(options.format)
      if (format !== 'table' && format !== 'json')
        throw new UsageError(`--format must be table or json, got: ${format}`)
      const maxRows = wholeNumber('--max-rows', options.maxRows, { max: 1_000_000 })
      const { withOperations } = await import('../ops/run.ts')
      const { columns, rows } = await withOperations(await loadConfigOf(options), (run) =>
        run('sql', { query, maxRows }),
      )
      if (format === 'json') {
        for (const row of rows)
          console.log(JSON.stringify(Object.fromEntries(columns.map((column, index) => [column.name, row[index]]))))
      } else {
        console.log(
          formatTable(
            columns.map((column) => column.name),
            rows,
          ),
        )
        console.log(`(${plural(rows.length, 'row')})`)
      }
    })
}
