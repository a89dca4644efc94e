import type { Readable } from 'node:stream'
import type { CAC } from 'cac'
import { UsageError } from '../errors.ts'
import { loadConfigOf, plural, wholeNumber, type GlobalOptions } from './common.ts'
import { Table } from './table.ts'

type SqlOptions = GlobalOptions & { format: unknown; maxRows?: unknown }

/** Rows printed at a time: a table is aligned a batch at a time. */
const BATCH = 1000

/** `dacc sql "<query>"`: read-only queries for data engineers (see sql/check.ts for how it is enforced). */
export function addSqlCommand(cli: CAC): void {
  cli
    .command(
      'sql <query>',
      'Run a read-only query (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, EXISTS) on ClickHouse and print the result as it comes',
    )
    .option(
      '--format <format>',
      'table: aligned text (aligned a thousand rows at a time); json: one JSON object per row, a line each (JSON lines)',
      { default: 'table' },
    )
    .option('--max-rows <rows>', 'refuse a result of more rows (default: no limit)')
    .action(async (query: string, options: SqlOptions) => {
      const format = String(options.format)
      if (format !== 'table' && format !== 'json')
        throw new UsageError(`--format must be table or json, got: ${format}`)
      const maxRows =
        options.maxRows === undefined ? undefined : wholeNumber('--max-rows', options.maxRows, { max: 1e12 })
      const { withOperations } = await import('../ops/run.ts')
      await withOperations(await loadConfigOf(options), async (run) => {
        const rows = await run('sql', { query, maxRows })
        await print(rows, format)
      })
    })
}

/** Prints the rows (JSON arrays a line: names, types, then rows) as they come, at stdout's pace. */
async function print(stream: Readable, format: 'table' | 'json'): Promise<void> {
  let names: string[] | undefined
  let table: Table | undefined
  let batch: unknown[][] = []
  let count = 0
  const flush = async () => {
    const text =
      format === 'json'
        ? batch.map((row) => JSON.stringify(Object.fromEntries(names!.map((name, index) => [name, row[index]]))))
        : table!.lines(batch)
    batch = []
    if (text.length > 0 && !process.stdout.write(`${text.join('\n')}\n`))
      await new Promise((resolve) => process.stdout.once('drain', resolve))
  }
  let skipTypes = true
  for await (const line of lines(stream)) {
    if (!names) {
      names = JSON.parse(line) as string[]
      table = new Table(names)
      continue
    }
    if (skipTypes) {
      skipTypes = false
      continue
    }
    batch.push(JSON.parse(line) as unknown[])
    count++
    if (batch.length === BATCH) await flush()
  }
  if (names) await flush()
  if (format === 'table') console.log(`(${plural(count, 'row')})`)
}

/** The stream's lines, as they come. */
async function* lines(stream: Readable): AsyncGenerator<string> {
  stream.setEncoding('utf8')
  let rest = ''
  for await (const chunk of stream as AsyncIterable<string>) {
    const parts = (rest + chunk).split('\n')
    rest = parts.pop() ?? ''
    yield* parts.filter(Boolean)
  }
  if (rest) yield rest
}
