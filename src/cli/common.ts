import { cac, type CAC } from 'cac'
import type { Config } from '../config.ts'
import type { Definitions } from '../definitions/definitions.ts'
import type { Definition } from '../definitions/schema.ts'
import { firstLine, UsageError } from '../errors.ts'
import type { RunOperation } from '../ops/operations.ts'
import type { Store } from '../store/store.ts'

// The configuration, the SQLite driver and the ClickHouse client load when a command runs, not
// when the command line is read (`dacc --help` needs none of them).

export type GlobalOptions = { config?: string }

/** A cac instance for `dacc` or one of its command groups, with the options every command takes. */
export function commands(name: string): CAC {
  const cli = cac(name)
  cli.option('--config <file>', 'YAML configuration file (default: $DACC_CONFIG, then ./config.yml)')
  return cli
}

/** Runs `fn` with the SQLite store of the configured data directory, closed afterwards. */
export async function withStore<T>(
  options: GlobalOptions,
  fn: (store: Store, config: Config) => Promise<T> | T,
): Promise<T> {
  const config = await loadConfigOf(options)
  const { openStore } = await import('../store/store.ts')
  const store = openStore(config.dataDir)
  try {
    return await fn(store, config)
  } finally {
    store.close()
  }
}

/** withStore, and a way to run ClickHouse operations: through a running server, or directly (ops/run.ts). */
export function withStoreAndClickHouse<T>(
  options: GlobalOptions,
  fn: (store: Store, run: RunOperation, config: Config) => Promise<T>,
): Promise<T> {
  return withStore(options, async (store, config) =>
    (await import('../ops/run.ts')).withOperations(config, (run) => fn(store, run, config)),
  )
}

/** The store's definitions (ajv compiles the definitions file schema when that module loads). */
export const definitionsOf = async (store: Store): Promise<Definitions> =>
  (await import('../definitions/definitions.ts')).createDefinitions(store)

/** The store's wildcard sets. */
export const wildcardsOf = async (store: Store) => (await import('../wildcards/wildcards.ts')).createWildcards(store)

/** The configuration named by --config (else $DACC_CONFIG, then ./config.yml). */
export async function loadConfigOf(options: GlobalOptions): Promise<Config> {
  return (await import('../config.ts')).loadConfig({ file: options.config })
}

/**
 * Copies the SQLite definitions to ClickHouse (the aggregates_public view reads them). SQLite
 * stays the source of truth: when the copy fails, the next migrate or definitions change redoes it.
 */
export async function mirrorToClickHouse(store: Store, run: RunOperation): Promise<void> {
  try {
    const { mirrorSource } = await import('../definitions/mirror.ts')
    await run('mirrorDefinitions', mirrorSource(store))
  } catch (err) {
    throw new UsageError(
      `the definitions are saved, but copying them to ClickHouse failed (dacc migrate copies them again): ${firstLine(err)}`,
    )
  }
}

/** The definition named `name`, or the original's message for an unknown one. */
export function definitionOf(definitions: Definitions, name: string): Definition {
  const definition = definitions.get(name)
  if (!definition) throw new UsageError(`No measure definition found for: ${name}`)
  return definition
}

/** A whole number given to `option`, from `min` to `max` (by default 1 to a century of days). */
export function wholeNumber(option: string, value: unknown, { min = 1, max = 36_500 } = {}): number {
  const number = typeof value === 'string' && value.trim() === '' ? Number.NaN : Number(value)
  if (!Number.isSafeInteger(number) || number < min || number > max) {
    throw new UsageError(`${option} must be a whole number from ${min} to ${max}, got: ${value}`)
  }
  return number
}

export const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`
