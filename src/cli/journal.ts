import type { CAC } from 'cac'
import { UsageError } from '../errors.ts'
import type { JournalOperations } from '../measures/ingest.ts'
import type { QuarantineEntry } from '../measures/quarantine.ts'
import type { JournalOperationName } from '../ops/operations.ts'
import { commands, loadConfigOf, plural, type GlobalOptions } from './common.ts'
import { formatTable } from './table.ts'

// The journal is the running server's own (it holds its lock and counts what is set aside in its
// answers): these commands ask it over its socket (src/ops/socket.ts). Only the list can be read
// without it, from the quarantine directory itself.

/** Runs a journal operation in the running server; a usage error when none runs. */
async function askJournal<N extends JournalOperationName>(
  options: GlobalOptions,
  name: N,
  args?: Parameters<JournalOperations[N]>[0],
): Promise<Awaited<ReturnType<JournalOperations[N]>>> {
  const config = await loadConfigOf(options)
  const { askServer, socketOf } = await import('../ops/socket.ts')
  const answer = await askServer(socketOf(config), name, args ?? {})
  if (!answer) throw new UsageError(`no dacc serve runs on ${config.dataDir}: start it, ${name} runs in it`)
  return answer.result as Awaited<ReturnType<JournalOperations[N]>>
}

const measuresOf = (entry: QuarantineEntry) =>
  Object.entries(entry.measures)
    .map(([name, count]) => `${name}: ${count}`)
    .join(', ')

/** `dacc quarantine list|retry|discard`: loads ClickHouse refused, set aside so that the rest kept loading. */
export function quarantineCommands(): CAC {
  const cli = commands('dacc quarantine')

  cli
    .command('list', 'List the journal segments and import chunks set aside, with why')
    .action(async (options: GlobalOptions) => {
      const config = await loadConfigOf(options)
      const { askServer, socketOf } = await import('../ops/socket.ts')
      const answer = await askServer(socketOf(config), 'quarantineList', {})
      const { listQuarantine } = await import('../measures/quarantine.ts')
      const entries = (answer?.result as QuarantineEntry[] | undefined) ?? listQuarantine(config.ingest.journalDir)
      if (entries.length === 0) return console.log('Nothing is set aside.')
      console.log(
        formatTable(
          ['id', 'kind', 'measures', 'attempts', 'set aside at', 'error'],
          entries.map((entry) => [
            entry.id,
            entry.kind,
            entry.rows,
            entry.attempts,
            entry.quarantinedAt,
            entry.inDoubt ? `in doubt (retry to complete): ${entry.error}` : entry.error,
          ]),
        ),
      )
      console.log(`${plural(entries.length, 'load')} set aside, ${plural(sum(entries), 'measure')}`)
    })

  cli
    .command('retry [...ids]', 'Load set-aside segments or chunks again, after a fix (all of them with --all)')
    .option('--all', 'retry everything set aside')
    .action(async (ids: string[], options: GlobalOptions & { all?: boolean }) => {
      if (ids.length === 0 && !options.all)
        throw new UsageError('name the loads to retry (dacc quarantine list), or --all')
      const results = await askJournal(options, 'quarantineRetry', { ids: options.all ? [] : ids })
      if (results.length === 0) return console.log('Nothing is set aside.')
      for (const { id, rows, error } of results)
        console.log(error ? `Still refused ${id}: ${error}` : `Loaded ${id}: ${plural(rows, 'measure')}`)
      const refused = results.filter((result) => result.error).length
      if (refused > 0) throw new UsageError(`${plural(refused, 'load')} still refused, kept set aside`)
    })

  cli
    .command('discard <id>', 'Delete a set-aside load for good: its measures leave every answer (needs --yes)')
    .option('--yes', 'confirm: the measures it holds are deleted for good')
    .action(async (id: string, options: GlobalOptions & { yes?: boolean }) => {
      if (!options.yes)
        throw new UsageError(
          `discarding ${id} deletes the acknowledged measures it holds for good: add --yes to confirm (dacc quarantine list shows them)`,
        )
      const entry = await askJournal(options, 'quarantineDiscard', { id })
      console.log(`Discarded ${entry.id}: ${plural(entry.rows, 'measure')} (${measuresOf(entry)})`)
    })
  return cli
}

/** `dacc drain`: retires a server without losing its journal. */
export function addDrainCommand(cli: CAC): void {
  cli
    .command(
      'drain',
      'Stop the running server taking measures, load everything its journal holds into ClickHouse, then stop it',
    )
    .action(async (options: GlobalOptions) => {
      const { loaded, setAside } = await askJournal(options, 'drain')
      if (setAside > 0)
        throw new UsageError(
          `drained ${plural(loaded, 'measure')}, but ${plural(setAside, 'load')} stay set aside in the journal: settle them (dacc quarantine retry|discard on a running server) before retiring this instance`,
        )
      console.log(`Drained: ${plural(loaded, 'measure')} loaded, the journal is empty; the server stops`)
    })
}

const sum = (entries: QuarantineEntry[]) => entries.reduce((total, entry) => total + entry.rows, 0)
