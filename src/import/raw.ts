import type { Definition } from '../definitions/schema.ts'
import type { RunOperation } from '../ops/operations.ts'
import { bucketOf, toRawMeasure } from './mapping.ts'
import { CHUNK_ROWS, inOrder, progress, type Pass } from './pass.ts'
import type { Original, RawScope } from './postgres.ts'

export type RawResult = {
  aggregated: number
  counted: number
  present: number
  skipped: number
  /** The measures of which raw measures already in aggregation were imported. */
  aggregatedOf: Set<string>
}

/**
 * The raw rows above each measure's mark, by measure and id: those received up to the measure's
 * high-water mark kept out of the aggregates, the others counted; those already in raw_measures
 * (by original id) skipped. The mark then moves to the last row received over an hour before the
 * snapshot (records.ts).
 */
export async function importRaw(
  original: Original,
  run: RunOperation,
  pass: Pass & { scopes: RawScope[]; migrated: boolean },
): Promise<RawResult> {
  const result: RawResult = { aggregated: 0, counted: 0, present: 0, skipped: 0, aggregatedOf: new Set() }
  const marks = new Map(pass.scopes.map((scope) => [scope.name, scope.mark]))
  const report = progress(pass.print, 'raw_measure', pass.total)
  let read = 0
  let measure:
    | { name: string; definition: Definition; present: Set<number>; mark: number; lines: string[]; ids: number[] }
    | undefined
  const inserts = inOrder()

  const flush = async () => {
    if (!measure || measure.lines.length === 0) return
    const args = { measure: measure.name, rows: measure.lines.join('\n'), ids: measure.ids }
    if (pass.records) await inserts.add(() => run('insertImportedRaw', args))
    measure.lines = []
    measure.ids = []
  }
  const finish = async () => {
    await flush()
    await inserts.done()
    if (measure) pass.records?.rawImported(measure.name, measure.mark)
  }

  if (pass.scopes.length > 0) {
    for await (const batch of original.raw(pass.scopes)) {
      for (const row of batch) {
        if (row.measure_name !== measure?.name) {
          await finish()
          const mark = marks.get(row.measure_name)!
          const present = pass.migrated ? await run('importedRawIds', { measure: row.measure_name, above: mark }) : []
          measure = {
            name: row.measure_name,
            definition: pass.byName.get(row.measure_name)!,
            present: new Set(present),
            mark,
            lines: [],
            ids: [],
          }
        }
        if (row.settled) measure.mark = row.id
        const startDate = bucketOf(row.start_date)
        if (measure.present.has(row.id)) result.present++
        else if (startDate === null || row.value === null) result.skipped++
        else {
          measure.lines.push(JSON.stringify(toRawMeasure(row, startDate, measure.definition, pass.importedAt)))
          measure.ids.push(row.id)
          if (row.aggregated) {
            result.aggregated++
            result.aggregatedOf.add(measure.name)
          } else result.counted++
          if (measure.lines.length >= CHUNK_ROWS) await flush()
        }
      }
      report((read += batch.length))
    }
    await finish()
  }
  return result
}
