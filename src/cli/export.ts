import fs from 'node:fs'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { CAC } from 'cac'
import { parseRangeDate } from '../dates.ts'
import { UsageError } from '../errors.ts'
import { definitionsOf, definitionOf, withStoreAndClickHouse, type GlobalOptions } from './common.ts'

type ExportOptions = GlobalOptions & {
  format?: unknown
  measure?: unknown
  from?: unknown
  to?: unknown
  output?: unknown
}

const FORMATS = ['parquet', 'csv', 'jsonl'] as const

/** `dacc export-public`: aggregates_public to a file, for data engineers (README: For data engineers). */
export function addExportPublicCommand(cli: CAC): void {
  cli
    .command(
      'export-public',
      'Write aggregates_public (what /aggregate publishes) to a file: Parquet, CSV or JSON lines',
    )
    .option('--format <format>', 'parquet, csv (with a header line) or jsonl (one JSON object per row)', {
      default: 'parquet',
    })
    .option('--measure <name>', "one measure's rows (default: every published measure)")
    .option('--from <date>', 'buckets from this date on (YYYY-MM-DD or ISO-8601, inclusive, as /aggregate)')
    .option('--to <date>', 'buckets before this date (exclusive)')
    .option('-o, --output <file>', 'the file to write (required)')
    .action(async (options: ExportOptions) => {
      const format = String(options.format)
      if (!(FORMATS as readonly string[]).includes(format))
        throw new UsageError(`--format must be one of ${FORMATS.join(', ')}, got: ${format}`)
      if (options.output === undefined || options.output === true || String(options.output) === '')
        throw new UsageError('-o FILE is required: the file to write')
      const day = (option: string, value: unknown) => {
        if (value === undefined) return undefined
        const date = parseRangeDate(String(value))
        if (!date) throw new UsageError(`--${option} must be a date (YYYY-MM-DD or ISO-8601), got: ${value}`)
        return date
      }
      const from = day('from', options.from)
      const to = day('to', options.to)
      const file = path.resolve(String(options.output))
      await withStoreAndClickHouse(options, async (store, run) => {
        const measure = options.measure === undefined ? undefined : String(options.measure)
        if (measure !== undefined) definitionOf(await definitionsOf(store), measure)
        const rows = await run('exportPublic', { format: format as (typeof FORMATS)[number], measure, from, to })
        // Written beside, then renamed: a failed export leaves no half file under the name asked for.
        const partial = `${file}.partial`
        try {
          await pipeline(rows, fs.createWriteStream(partial))
          fs.renameSync(partial, file)
        } catch (err) {
          fs.rmSync(partial, { force: true })
          throw err
        }
        console.log(`Exported aggregates_public to ${file} (${format}, ${fs.statSync(file).size} bytes)`)
      })
    })
}
