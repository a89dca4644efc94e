import type { CAC } from 'cac'
import { UsageError } from '../errors.ts'
import { DEFAULT_SCOPES, SCOPES, type Scope } from '../tokens/scopes.ts'
import type { Tokens } from '../tokens/tokens.ts'
import { commands, plural, wholeNumber, withStore, type GlobalOptions } from './common.ts'

type TokenOptions = GlobalOptions & { scopes: string; expiresInDays?: string }

const scopesOf = (value: unknown): Scope[] => {
  const scopes = String(value)
    .split(',')
    .map((scope) => scope.trim())
  const unknown = scopes.find((scope) => !(SCOPES as readonly string[]).includes(scope))
  if (unknown) throw new UsageError(`unknown scope: ${unknown} (known: ${SCOPES.join(', ')})`)
  return scopes as Scope[]
}

const daysOf = (value: unknown): number | undefined =>
  value === undefined ? undefined : wholeNumber('--expires-in-days', value)

/** Runs `fn` with the store's tokens (jose is loaded only by the commands that sign). */
const withTokens = <T>(options: GlobalOptions, fn: (tokens: Tokens) => Promise<T> | T): Promise<T> =>
  withStore(options, async (store, config) =>
    fn((await import('../tokens/tokens.ts')).createTokens(store, config.auth.signingKey)),
  )

/** `dacc token create|get|update|delete-org <org>`: the original's commands and output lines. */
export function tokenCommands(): CAC {
  const cli = commands('dacc token')

  cli
    .command('create <org>', 'Create a token for an org (the org is created if needed) and print it')
    .option('--scopes <scopes>', `comma-separated scopes among ${SCOPES.join(', ')}`, {
      default: DEFAULT_SCOPES.join(','),
    })
    .option('--expires-in-days <days>', 'the token expires after this many days (default: never)')
    .action(async (org: string, options: TokenOptions) => {
      const scopes = scopesOf(options.scopes)
      const expires = daysOf(options.expiresInDays)
      await withTokens(options, async (tokens) => {
        console.log(`Token created for ${org}: ${await tokens.create(org, scopes, expires)}`)
      })
    })

  cli
    .command(
      'get <org>',
      "List an org's tokens (id, created, scopes, expiry, state; tokens themselves are never stored)",
    )
    .action(async (org: string, options: GlobalOptions) => {
      await withTokens(options, (tokens) => {
        for (const token of tokens.list(org)) {
          const state = token.revokedAt ? `revoked ${token.revokedAt}` : 'active'
          console.log(
            `${token.id}  created ${token.createdAt}  scopes ${token.scopes.join(',')}  expires ${token.expiresAt ?? 'never'}  ${state}`,
          )
        }
      })
    })

  cli
    .command('update <org>', "Rotate an org's token: revoke its tokens and print a new one")
    .option('--expires-in-days <days>', 'the new token expires after this many days (default: never)')
    .action(async (org: string, options: TokenOptions) => {
      const expires = daysOf(options.expiresInDays)
      await withTokens(options, async (tokens) => {
        console.log(`Token created for ${org}: ${await tokens.rotate(org, expires)}`)
      })
    })

  cli
    .command('delete-org <org>', 'Delete an org and revoke all its tokens')
    .action(async (org: string, options: GlobalOptions) => {
      await withTokens(options, (tokens) => {
        console.log(`Org deleted: ${org} (${plural(tokens.deleteOrg(org), 'token')} revoked)`)
      })
    })
  return cli
}
