import { cac, type CAC } from 'cac'
import { loadConfig, type Config } from '../config.ts'
import type { Definitions } from '../definitions/definitions.ts'
import type { Definition } from '../definitions/schema.ts'
import { mirrorSource } from '../definitions/mirror.ts'
import { firstLine, UsageError } from '../errors.ts'
import type { RunOperation } from '../ops/operations.ts'
import { withOperations } from '../ops/run.ts'
import { openStore, type Store } from '../store/store.ts'

export type GlobalOptions = { config?: string }

/** A cac instance for `dacc` or one of its command groups, with the options every command takes. */
export function commands(name: string): CAC {
  const cli = cac(name)
  cli.option('--config <file>', 'YAML configuration file (default: $DACC_CONFIG, then ./config.yml)')
  return cli
}

/** Runs `fn` with the SQLite store of the configured data directory, closed afterwards. */
export async function withStore<T>(options: GlobalOptions, fn: (store: Store, config: Config) => Promise<T> | T): Promise<T> {
  const config = loadConfig({ file: options.config })
  const store = openStore(config.dataDir)
  try {
    return await fn(store, config)
  } finally {
    store.close()
  }
}

/** withStore, and a way to run ClickHouse operations: through a running server, or directly (ops/run.ts). */
export function withStoreAndClickHouse<T>(options: GlobalOptions, fn: (store: Store, run: RunOperation) => Promise<T>): Promise<T> {
  return withStore(options, (store, config) => withOperations(config, (run) => fn(store, run)))
}

/**
 * Copies the SQLite definitions to ClickHouse (the aggregates_public view reads them). SQLite
 * stays the source of truth: when the copy fails, the next migrate or definitions change redoes it.
 */
export async function mirrorToClickHouse(store: Store, run: RunOperation): Promise<void> {
  try {
    await run('mirrorDefinitions', mirrorSource(store))
  } catch (err) {
    throw new UsageError(`the definitions are saved, but copying them to ClickHouse failed (dacc migrate copies them again): ${firstLine(err)}`)
  }
}

/** The definition named `name`, or the original's message for an unknown one. */
export function definitionOf(definitions: Definitions, name: string): Definition {
  const definition = definitions.get(name)
  if (!definition) throw new UsageError(`No measure definition found for: ${name}`)
  return definition
}

/** A positive whole number given to `option`, at most `max` (by default a century of days). */
export function positive(option: string, value: unknown, max = 36_500): number {
  const number = Number(value)
  if (!Number.isSafeInteger(number) || number <= 0 || number > max) {
    throw new UsageError(`${option} must be a whole number from 1 to ${max}, got: ${value}`)
  }
  return number
}

export const plural = (count: number, noun: string) => `${count} ${noun}${count === 1 ? '' : 's'}`
