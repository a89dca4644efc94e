import type { CAC } from 'cac'
import {
  commands,
  definitionsOf,
  mirrorToClickHouse,
  withStoreAndClickHouse,
  type GlobalOptions,
} from './cli/common.ts'
import { definitionsCommands } from './cli/definitions.ts'
import { addDemoCommand } from './cli/demo.ts'
import { addDrainCommand, quarantineCommands } from './cli/journal.ts'
import { addExportPublicCommand } from './cli/export.ts'
import { purgeCommands } from './cli/purge.ts'
import { addOriginalCommands } from './cli/original.ts'
import { addSqlCommand } from './cli/sql.ts'
import { tokenCommands } from './cli/tokens.ts'
import { addTransferCommands } from './cli/transfer.ts'
import { addComputeWildcardAggregate, wildcardCommands } from './cli/wildcards.ts'
import { firstLine, UsageError } from './errors.ts'

// Every command loads what it needs when it runs (the server, the SQLite driver, the ClickHouse
// client...), so that `dacc --help` or `dacc token create` do not pay for the rest.

const SHUTDOWN_TIMEOUT_MS = 10_000

function topLevel(): CAC {
  const cli = commands('dacc')

  cli.command('serve', 'Start the HTTP server (applies the schemas first)').action(async (options: GlobalOptions) => {
    const { loadConfig } = await import('./config.ts')
    const { startServer } = await import('./server.ts')
    // Listened for before the start: a stop asked while the server starts (its port already open)
    // is carried out once it has started, never by the signal's default action, which would kill it.
    let server: Awaited<ReturnType<typeof startServer>> | undefined
    let asked = false
    const stop = () => {
      asked = true
      if (!server) return
      // A second signal, or a shutdown stuck past the limit, ends the process at once.
      setTimeout(() => process.exit(1), SHUTDOWN_TIMEOUT_MS).unref()
      server.close().then(
        () => process.exit(0),
        () => process.exit(1),
      )
    }
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
    server = await startServer(loadConfig({ file: options.config }))
    // `dacc drain` stops the server once its journal is loaded.
    server.stopped.then(() => process.exit(0))
    if (asked) stop()
  })

  cli
    .command('migrate', 'Create or upgrade the ClickHouse and SQLite schemas (idempotent)')
    .action(async (options: GlobalOptions) => {
      // Opening the store has brought SQLite up to date; ClickHouse goes through a running server, if any.
      await withStoreAndClickHouse(options, async (store, run) => {
        const { applied } = await run('migrate')
        console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'ClickHouse schema is up to date')
        console.log('SQLite schema is up to date')
        await mirrorToClickHouse(store, run)
      })
    })

  cli
    .command(
      'insert-definitions-json',
      'Insert or update measure definitions from a JSON file ({"definitions": [...]}), by name',
    )
    .option('-f, --file <file>', 'definitions file', { default: 'definitions.json' })
    .action(async (options: GlobalOptions & { file: string }) => {
      await withStoreAndClickHouse(options, async (store, run) => {
        const { inserted, updated } = (await definitionsOf(store)).insertFile(String(options.file))
        for (const name of inserted) console.log(`New definition inserted: ${name}`)
        for (const name of updated) console.log(`Definition updated: ${name}`)
        // Without a server to have migrated it, a new store gets its ClickHouse schema here.
        await run('migrate')
        await mirrorToClickHouse(store, run)
        console.log('Done.')
      })
    })

  addComputeWildcardAggregate(cli)
  addSqlCommand(cli)
  addExportPublicCommand(cli)
  addTransferCommands(cli)
  addOriginalCommands(cli)
  addDemoCommand(cli)
  cli.command('token <command>', 'Manage tokens: dacc token create|get|update|delete-org <org> (see dacc token --help)')
  cli.command(
    'purge <command>',
    'Purge old raw measures, aggregates unchanged: dacc purge measure <name> | all-measures [-d DAYS] (see dacc purge --help)',
  )
  cli.command(
    'definitions <command>',
    'Measure definitions: dacc definitions list | delete <name> [--purge-data] (see dacc definitions --help)',
  )
  cli.command('wildcard <command>', 'Wildcard sets: dacc wildcard list [name] (see dacc wildcard --help)')
  cli.command(
    'quarantine <command>',
    'Loads ClickHouse refused, set aside: dacc quarantine list | retry [ids] [--all] | discard <id> --yes (see dacc quarantine --help)',
  )
  addDrainCommand(cli)
  return cli
}

// Multi-word commands (`dacc token create`) are groups, each a cac instance of its own, so that
// every subcommand gets its own arguments, options and --help.
const GROUPS: Record<string, () => CAC> = {
  token: tokenCommands,
  purge: purgeCommands,
  definitions: definitionsCommands,
  wildcard: wildcardCommands,
  quarantine: quarantineCommands,
}

export async function main(argv: string[]): Promise<void> {
  // Whatever the caller's umask: files this process creates (the stores, the journal, exports)
  // are its owner's alone; the data directory holds the token signing key.
  process.umask(0o077)
  const [node, script, first, ...rest] = argv
  const group = first !== undefined ? GROUPS[first] : undefined
  const cli = group ? group() : topLevel()
  cli.help()
  try {
    cli.parse(group ? [node, script, ...rest] : argv, { run: false })
    if (cli.options.help) return
    if (!cli.matchedCommand) {
      const given = group ? rest[0] : first
      const help = `see dacc${group ? ` ${first}` : ''} --help`
      throw new UsageError(
        given ? `unknown command: ${group ? `${first} ` : ''}${given} (${help})` : `a command is needed (${help})`,
      )
    }
    // `dacc sql ... | head`: a reader that has read enough is no failure (serve's log is another matter).
    if (cli.matchedCommandName !== 'serve')
      process.stdout.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? 0 : 1))
    await cli.runMatchedCommand()
  } catch (err) {
    console.error(`Error: ${describe(err).trim()}`)
    // At once: a failed start (a port in use, say) must not linger on what it could not release.
    process.exit(1)
  }
}

/** One line for the user: expected failures say what is wrong; anything else its first line. */
function describe(err: unknown): string {
  if (err instanceof UsageError) return err.message
  if ((err as Error)?.name === 'CACError') return (err as Error).message
  return firstLine(err)
}
