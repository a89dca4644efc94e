import type { ClickHouse } from '../clickhouse/client.ts'
import { UsageError } from '../errors.ts'
import type { JournalOperations } from '../measures/ingest.ts'
import { migrate } from '../clickhouse/migrate.ts'
import { mirrorDefinitions, type MirrorSource } from '../definitions/mirror.ts'
import { completeRawChunks, insertRawChunk } from '../import/chunks.ts'
import {
  clearImportedBuckets,
  importedRawIds,
  importTargetState,
  insertImportedBuckets,
  keepImportedValues,
} from '../import/queries.ts'
import { deleteMeasureData, purgeRawMeasures, rawCounts } from '../purge/queries.ts'
import { exportPublic, type ExportOptions } from '../sql/export.ts'
import { exportData } from '../transfer/transfer.ts'
import { readOnlyQuery } from './sql.ts'

/**
 * What an operation works on: the ClickHouse client and whether it is the embedded engine, the
 * cluster name ('' for one server), and the journal directory of the process that runs it (an
 * import's chunks are written ahead there).
 */
export type OperationContext = Pick<ClickHouse, 'client' | 'mode'> & { cluster: string; journalDir: string }

/**
 * The ClickHouse work of the CLI, by name, one implementation each. An operation runs in the
 * CLI's own process, or in `dacc serve` on the CLI's behalf when the server holds the embedded
 * data directory (see socket.ts), so its arguments and result are plain JSON, or a stream of bytes.
 */
export const OPERATIONS = {
  /** Nothing: answers whether a server listens. */
  ping: async () => ({ ok: true }),
  migrate: async ({ client, cluster }: OperationContext) => ({ applied: await migrate(client, { cluster }) }),
  /** `before`: an ISO-8601 instant; raw measures received earlier go. */
  purge: ({ client, cluster }: OperationContext, { names, before }: { names: string[]; before: string }) =>
    purgeRawMeasures(client, names, new Date(before), cluster),
  rawCounts: async ({ client }: OperationContext) => Object.fromEntries(await rawCounts(client)),
  deleteData: ({ client, cluster }: OperationContext, { name }: { name: string }) =>
    deleteMeasureData(client, name, cluster),
  /** A stream (the socket streams it): the rows as JSON arrays, a line each (ops/sql.ts). */
  sql: (context: OperationContext, { query, maxRows }: { query: string; maxRows?: number }) =>
    readOnlyQuery(context, query, maxRows),
  /** aggregates_public in a file format, a stream (sql/export.ts). */
  exportPublic: (context: OperationContext, options: ExportOptions) => exportPublic(context, options),
  /** The SQLite definitions, sent whole: ClickHouse's copy becomes equal to them. */
  mirrorDefinitions: ({ client }: OperationContext, source: MirrorSource) => mirrorDefinitions(client, source),
  /** `dir`: absolute, since a running server may write it on the CLI's behalf. */
  export: ({ client }: OperationContext, { dir }: { dir: string }) => exportData(client, dir),
  // dacc import-original (src/import/): each writing one names its `measure`, whose cached answers a server forgets.
  importTargetState: ({ client }: OperationContext, { names }: { names: string[] }) => importTargetState(client, names),
  importedRawIds: ({ client }: OperationContext, { measure, above }: { measure: string; above: number }) =>
    importedRawIds(client, measure, above),
  clearImportedBuckets: ({ client, cluster }: OperationContext, { measure }: { measure: string }) =>
    clearImportedBuckets(client, measure, cluster),
  /** `rows`: JSONCompactEachRow text (src/import/mapping.ts). */
  insertImportedBuckets: ({ client }: OperationContext, { rows }: { measure: string; rows: string }) =>
    insertImportedBuckets(client, rows),
  insertImportedRaw: (context: OperationContext, { rows, ids }: { measure: string; rows: string; ids: number[] }) =>
    insertRawChunk(context, context.journalDir, rows, ids),
  keepImportedValues: ({ client }: OperationContext, { measure }: { measure: string }) =>
    keepImportedValues(client, measure),
  /** The chunks of an import killed mid-insert, completed (a running server did so at its start). */
  completeImportedRaw: (context: OperationContext) => completeRawChunks(context, context.journalDir, context.cluster),
}

/** The operations that change a measure's aggregates other than by loading measures, and which measure. */
export const CHANGED_MEASURE: Partial<Record<OperationName, (args: unknown) => string>> = {
  deleteData: (args) => (args as { name: string }).name,
  clearImportedBuckets: (args) => (args as { measure: string }).measure,
  insertImportedBuckets: (args) => (args as { measure: string }).measure,
  insertImportedRaw: (args) => (args as { measure: string }).measure,
  keepImportedValues: (args) => (args as { measure: string }).measure,
}

type Operations = typeof OPERATIONS
export type OperationName = keyof Operations
type ArgsOf<N extends OperationName> =
  Parameters<Operations[N]> extends [OperationContext, infer Args] ? [args: Args] : []
type ResultOf<N extends OperationName> = Awaited<ReturnType<Operations[N]>>

/** Runs an operation by name, wherever it runs: the CLI and the server's retention call this. */
export type RunOperation = <N extends OperationName>(name: N, ...args: ArgsOf<N>) => Promise<ResultOf<N>>

export const isOperation = (name: string): name is OperationName => Object.hasOwn(OPERATIONS, name)

/** The operations only a running server does: its journal is its own (src/measures/ingest.ts). */
export const JOURNAL_OPERATIONS = ['quarantineList', 'quarantineRetry', 'quarantineDiscard', 'drain'] as const
export type JournalOperationName = (typeof JOURNAL_OPERATIONS)[number]
export const isJournalOperation = (name: string): name is JournalOperationName =>
  (JOURNAL_OPERATIONS as readonly string[]).includes(name)

/** A server's runner: the journal's operations by `journal()` (once it is recovered), the rest by `run`. */
export const withJournal =
  (run: RunAny, journal: () => JournalOperations | undefined): RunAny =>
  (name, args) => {
    if (!isJournalOperation(name)) return run(name as OperationName, args)
    const operations = journal()
    if (!operations) throw new UsageError('the server is still starting: try again in a few seconds')
    return (operations[name] as (args: unknown) => Promise<unknown>)(args)
  }

/** Untyped: arguments and results cross JSON (the socket), or come through a RunOperation. */
export type RunAny = (name: OperationName | JournalOperationName, args: unknown) => Promise<unknown>

/** The typed face of a runner. */
export const typed = (run: RunAny): RunOperation =>
  ((name: OperationName, ...args: unknown[]) => run(name, args[0])) as RunOperation

/** Runs operations on this process's own client. */
export const runLocally =
  (context: OperationContext): RunAny =>
  async (name, args) => {
    if (isJournalOperation(name))
      throw new UsageError(`${name} needs a running dacc serve: its journal is the server's own`)
    return (OPERATIONS[name] as (context: OperationContext, args: unknown) => Promise<unknown>)(context, args)
  }
