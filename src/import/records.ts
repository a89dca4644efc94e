import type { Store } from '../store/store.ts'

/**
 * What dacc import-original did per measure (SQLite `original_imports`), so that running it again
 * adds only what the original received since, whatever the original did meanwhile:
 * - its aggregation rows are imported once, with the high-water mark (last_aggregated_measure_date)
 *   of that snapshot, `aggregatedThrough`. Later runs skip them: the original's later aggregation
 *   rows mix in raw measures this service already counts, which final statistics cannot subtract;
 * - its raw rows are imported by id: a run reads those above `rawMark` and counts the ones received
 *   after `aggregatedThrough`, even if the original has aggregated them since (as above). The mark
 *   only passes rows received over an hour before the snapshot: an INSERT into the original that
 *   was in flight then may commit a lower id than rows already visible; rows above the mark are
 *   read again by the next run, which skips those already in raw_measures (by original_id).
 * A run that stopped half-way resumes: buckets not marked done are imported again whole (their
 * earlier rows deleted first), raw rows already in ClickHouse are skipped.
 */
type ImportRecord = {
  measureName: string
  aggregatedThrough: string | null
  bucketsDoneAt: string | null
  rawMark: number
}

type Row = { measure_name: string; aggregated_through: string | null; buckets_done_at: string | null; raw_mark: number }

export function createImportRecords(store: Store) {
  const select = store.db.prepare('SELECT * FROM original_imports')
  const begin = store.db.prepare(
    `INSERT INTO original_imports (measure_name, aggregated_through, raw_mark, updated_at) VALUES (?, ?, 0, ?)
     ON CONFLICT (measure_name) DO UPDATE SET aggregated_through = excluded.aggregated_through, updated_at = excluded.updated_at`,
  )
  const bucketsDone = store.db.prepare(
    'UPDATE original_imports SET buckets_done_at = ?, updated_at = ? WHERE measure_name = ?',
  )
  const forget = store.db.prepare('DELETE FROM original_imports WHERE measure_name = ?')
  const rawMark = store.db.prepare(
    'UPDATE original_imports SET raw_mark = max(raw_mark, ?), updated_at = ? WHERE measure_name = ?',
  )
  const now = () => new Date().toISOString()

  return {
    all: (): Map<string, ImportRecord> =>
      new Map(
        (select.all() as Row[]).map((row) => [
          row.measure_name,
          {
            measureName: row.measure_name,
            aggregatedThrough: row.aggregated_through,
            bucketsDoneAt: row.buckets_done_at,
            rawMark: row.raw_mark,
          },
        ]),
      ),
    /** Before the first write for a measure's buckets: from now on its data here is the import's. */
    beginBuckets: (name: string, aggregatedThrough: string | null) => void begin.run(name, aggregatedThrough, now()),
    bucketsDone: (name: string) => void bucketsDone.run(now(), now(), name),
    /** Raw rows of `name` up to id `mark` are imported (the mark never goes back). */
    rawImported: (name: string, mark: number) => void rawMark.run(mark, now(), name),
    /** Its data is deleted here (definitions delete --purge-data): a next import starts it over. */
    forget: (name: string) => void forget.run(name),
  }
}

export type ImportRecords = ReturnType<typeof createImportRecords>
