import type { CAC } from 'cac'
import { DAY_MS } from '../dates.ts'
import type { Definitions } from '../definitions/definitions.ts'
import {
  commands,
  definitionOf,
  definitionsOf,
  plural,
  wholeNumber,
  withStoreAndClickHouse,
  type GlobalOptions,
} from './common.ts'

type PurgeOptions = GlobalOptions & { days: unknown }

const DAYS_OPTION = [
  '-d, --days <days>',
  'purge raw measures received more than this many days ago',
  { default: 90 },
] as const

/** `dacc purge measure <name>` and `dacc purge all-measures`: the raw measures go, the aggregates stay exactly as they are. */
export function purgeCommands(): CAC {
  const cli = commands('dacc purge')
  const purge = async (options: PurgeOptions, namesOf: (definitions: Definitions) => string[]) => {
    // 0: everything received up to now, as the original allowed (ops scripts use it).
    const days = wholeNumber('--days', options.days, { min: 0 })
    await withStoreAndClickHouse(options, async (store, run) => {
      const definitions = await definitionsOf(store)
      const { purgeMeasures } = await import('../purge/purge.ts')
      const names = namesOf(definitions)
      if (names.length === 0) return console.log('No measure definitions: nothing to purge')
      const before = new Date(Date.now() - days * DAY_MS)
      for (const { measureName, removed } of await purgeMeasures(run, definitions, names, before)) {
        console.log(`Purged ${measureName}: ${plural(removed, 'raw measure')} received before ${before.toISOString()}`)
      }
    })
  }

  cli
    .command(
      'measure <name>',
      "Delete a measure's raw measures received more than N days ago (its aggregates do not change)",
    )
    .option(...DAYS_OPTION)
    .action((name: string, options: PurgeOptions) =>
      purge(options, (definitions) => [definitionOf(definitions, name).name]),
    )

  cli
    .command(
      'all-measures',
      'Delete the raw measures of every measure received more than N days ago (aggregates do not change)',
    )
    .option(...DAYS_OPTION)
    .action((options: PurgeOptions) =>
      purge(options, (definitions) => definitions.list().map((record) => record.definition.name)),
    )
  return cli
}
