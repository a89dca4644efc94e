import type { CAC } from 'cac'
import { commands, mirrorToClickHouse, plural, positive, withStore, withStoreAndClickHouse, type GlobalOptions } from './cli/common.ts'
import { definitionsCommands } from './cli/definitions.ts'
import { purgeCommands } from './cli/purge.ts'
import { addSqlCommand } from './cli/sql.ts'
import { addTransferCommands } from './cli/transfer.ts'
import { addComputeWildcardAggregate, wildcardCommands } from './cli/wildcards.ts'
import { ClickHouseUnavailable } from './clickhouse/client.ts'
import { ConfigError, loadConfig } from './config.ts'
import { createDefinitions } from './definitions/definitions.ts'
import { firstLine, UsageError } from './errors.ts'
import { startServer } from './server.ts'
import { SCOPES, createTokens, type Scope } from './tokens/tokens.ts'

const SHUTDOWN_TIMEOUT_MS = 10_000

function topLevel(): CAC {
  const cli = commands('dacc')

  cli.command('serve', 'Start the HTTP server (applies the schemas first)').action(async (options: GlobalOptions) => {
    const server = await startServer(loadConfig({ file: options.config }))
    const stop = () => {
      // A second signal, or a shutdown stuck past the limit, ends the process at once.
      setTimeout(() => process.exit(1), SHUTDOWN_TIMEOUT_MS).unref()
      server.close().then(() => process.exit(0), () => process.exit(1))
    }
    process.once('SIGTERM', stop)
    process.once('SIGINT', stop)
  })

  cli.command('migrate', 'Create or upgrade the ClickHouse and SQLite schemas (idempotent)').action(async (options: GlobalOptions) => {
    // Opening the store has brought SQLite up to date; ClickHouse goes through a running server, if any.
    await withStoreAndClickHouse(options, async (store, run) => {
      const { applied } = await run('migrate')
      console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'ClickHouse schema is up to date')
      console.log('SQLite schema is up to date')
      await mirrorToClickHouse(store, run)
    })
  })

  cli
    .command('insert-definitions-json', 'Insert or update measure definitions from a JSON file ({"definitions": [...]}), by name')
    .option('-f, --file <file>', 'definitions file', { default: 'definitions.json' })
    .action(async (options: GlobalOptions & { file: string }) => {
      await withStoreAndClickHouse(options, async (store, run) => {
        const { inserted, updated } = createDefinitions(store).insertFile(String(options.file))
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
  addTransferCommands(cli)
  cli.command('token <command>', 'Manage tokens: dacc token create|get|update|delete-org <org> (see dacc token --help)')
  cli.command('purge <command>', 'Purge old raw measures, aggregates unchanged: dacc purge measure <name> | all-measures [-d DAYS] (see dacc purge --help)')
  cli.command('definitions <command>', 'Measure definitions: dacc definitions list | delete <name> [--purge-data] (see dacc definitions --help)')
  cli.command('wildcard <command>', 'Wildcard sets: dacc wildcard list [name] (see dacc wildcard --help)')
  return cli
}

function tokenCommands(): CAC {
  const cli = commands('dacc token')
  const scopesOf = (value: unknown): Scope[] => {
    const scopes = String(value).split(',').map((scope) => scope.trim())
    const unknown = scopes.find((scope) => !(SCOPES as readonly string[]).includes(scope))
    if (unknown) throw new UsageError(`unknown scope: ${unknown} (known: ${SCOPES.join(', ')})`)
    return scopes as Scope[]
  }
  const daysOf = (value: unknown): number | undefined => (value === undefined ? undefined : positive('--expires-in-days', value))
  type TokenOptions = GlobalOptions & { scopes: string; expiresInDays?: string }

  cli
    .command('create <org>', 'Create a token for an org (the org is created if needed) and print it')
    .option('--scopes <scopes>', `comma-separated scopes`, { default: SCOPES.join(',') })
    .option('--expires-in-days <days>', 'the token expires after this many days (default: never)')
    .action(async (org: string, options: TokenOptions) => {
      const scopes = scopesOf(options.scopes)
      const expires = daysOf(options.expiresInDays)
      await withStore(options, async (store, config) => {
        const token = await createTokens(store, config.auth.signingKey).create(org, scopes, expires)
        console.log(`Token created for ${org}: ${token}`)
      })
    })

  cli.command('get <org>', "List an org's tokens (id, created, scopes, expiry, state; tokens themselves are never stored)").action(
    async (org: string, options: GlobalOptions) => {
      await withStore(options, (store, config) => {
        for (const token of createTokens(store, config.auth.signingKey).list(org)) {
          const state = token.revokedAt ? `revoked ${token.revokedAt}` : 'active'
          console.log(`${token.id}  created ${token.createdAt}  scopes ${token.scopes.join(',')}  expires ${token.expiresAt ?? 'never'}  ${state}`)
        }
      })
    },
  )

  cli
    .command('update <org>', "Rotate an org's token: revoke its tokens and print a new one")
    .option('--expires-in-days <days>', 'the new token expires after this many days (default: never)')
    .action(async (org: string, options: TokenOptions) => {
      const expires = daysOf(options.expiresInDays)
      await withStore(options, async (store, config) => {
        const token = await createTokens(store, config.auth.signingKey).rotate(org, expires)
        console.log(`Token created for ${org}: ${token}`)
      })
    })

  cli.command('delete-org <org>', 'Delete an org and revoke all its tokens').action(async (org: string, options: GlobalOptions) => {
    await withStore(options, (store, config) => {
      const revoked = createTokens(store, config.auth.signingKey).deleteOrg(org)
      console.log(`Org deleted: ${org} (${plural(revoked, 'token')} revoked)`)
    })
  })
  return cli
}

// Multi-word commands (`dacc token create`) are groups, each a cac instance of its own, so that
// every subcommand gets its own arguments, options and --help.
const GROUPS: Record<string, () => CAC> = { token: tokenCommands, purge: purgeCommands, definitions: definitionsCommands, wildcard: wildcardCommands }

export async function main(argv: string[]): Promise<void> {
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
      throw new UsageError(given ? `unknown command: ${group ? `${first} ` : ''}${given} (${help})` : `a command is needed (${help})`)
    }
    // `dacc sql ... | head`: a reader that has read enough is no failure (serve's log is another matter).
    if (cli.matchedCommandName !== 'serve') process.stdout.on('error', (err: NodeJS.ErrnoException) => process.exit(err.code === 'EPIPE' ? 0 : 1))
    await cli.runMatchedCommand()
  } catch (err) {
    console.error(`Error: ${describe(err).trim()}`)
    process.exitCode = 1
  }
}

/** One line for the user: expected failures say what is wrong; anything else its first line. */
function describe(err: unknown): string {
  if (err instanceof UsageError || err instanceof ConfigError || err instanceof ClickHouseUnavailable) return err.message
  if ((err as Error)?.name === 'CACError') return (err as Error).message
  return firstLine(err)
}
