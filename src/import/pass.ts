import type { Definition } from '../definitions/schema.ts'
import type { ImportRecords } from './records.ts'

// What the steps of dacc import-original (import.ts, raw.ts) share.

export type ImportOptions = {
  /** Read everything and report what would be imported; change nothing. */
  dryRun: boolean
  /** Import even for measures of which this store holds data from elsewhere. */
  force: boolean
  /** The key new tokens are signed with (auth.signingKey). */
  signingKey: string
  print: (line: string) => void
}

/** Rows per INSERT (and per operation sent to a running server). */
export const CHUNK_ROWS = 10_000
/** A progress line at most this often on a long step. */
const PROGRESS_MS = 2_000
export const count = (n: number) => n.toLocaleString('en-US')

export type Pass = ImportOptions & {
  byName: Map<string, Definition>
  importedAt: string
  total: number
  /** Where progress is recorded; none in a dry run. */
  records: ImportRecords | undefined
}

/**
 * Inserts one at a time, in order, while the caller reads on: the next batch is read from
 * PostgreSQL while the last one is written (reading and writing take about as long each).
 */
export function inOrder() {
  let last: Promise<unknown> = Promise.resolve()
  return {
    /** Starts `insert` once the one before is done; an error shows here, or at `done`. */
    async add(insert: () => Promise<unknown>): Promise<void> {
      await last
      last = insert()
      last.catch(() => undefined) // awaited by the next add, or by done
    },
    done: () => last,
  }
}

/** Prints `<what>: n of total rows` on a long step, at most every PROGRESS_MS. */
export function progress(print: (line: string) => void, what: string, total: number): (read: number) => void {
  let last = performance.now()
  return (read) => {
    const now = performance.now()
    if (now - last < PROGRESS_MS) return
    last = now
    print(`  ... ${what}: ${count(read)} of ${count(total)} rows read`)
  }
}
