import type { CAC } from 'cac'
import { groupKeys, type Definition } from '../definitions/schema.ts'
import {
  commands,
  definitionOf,
  definitionsOf,
  mirrorToClickHouse,
  plural,
  wildcardsOf,
  withStoreAndClickHouse,
  type GlobalOptions,
} from './common.ts'
import { formatTable } from './table.ts'

const FLAGS = ['accessApp', 'accessPublic', 'withQuartiles'] as const

/** `dacc definitions list` and `dacc definitions delete <name>`. */
export function definitionsCommands(): CAC {
  const cli = commands('dacc definitions')

  cli
    .command('list', 'List the measure definitions: name, org, groups, threshold, flags, raw measures kept, last purge')
    .action((options: GlobalOptions) =>
      withStoreAndClickHouse(options, async (store, run) => {
        const records = (await definitionsOf(store)).list()
        if (records.length === 0) return console.log('No measure definitions')
        const counts: Record<string, number> = await run('rawCounts')
        const header = ['name', 'org', 'groups', 'threshold', 'flags', 'raw measures', 'last purge']
        const rows = records.map(({ definition, lastPurgeAt }) => [
          definition.name,
          definition.org || '-',
          groupsOf(definition),
          definition.aggregationThreshold,
          FLAGS.filter((flag) => definition[flag]).join(',') || '-',
          counts[definition.name] ?? 0,
          lastPurgeAt ?? 'never',
        ])
        console.log(formatTable(header, rows))
      }),
    )

  cli
    .command(
      'delete <name>',
      'Delete a measure definition and its wildcard sets; its ClickHouse data stays unless --purge-data',
    )
    .option('--purge-data', 'also delete its raw measures and its aggregates')
    .action((name: string, options: GlobalOptions & { purgeData?: boolean }) =>
      withStoreAndClickHouse(options, async (store, run) => {
        const definitions = await definitionsOf(store)
        definitionOf(definitions, name)
        // The data goes first: should ClickHouse fail, the definition is still there and the command
        // can simply run again. (Measures its producers send meanwhile would outlive it: stop them first.)
        const data = options.purgeData ? await run('deleteData', { name }) : undefined
        const wildcards = await wildcardsOf(store)
        const sets = wildcards.list(name)
        const { createImportRecords } = await import('../import/records.ts')
        store.db.transaction(() => {
          definitions.delete(name)
          for (const set of sets) wildcards.remove(name, set.groups)
          // Its data gone, an import of the original brings it whole again.
          if (data) createImportRecords(store).forget(name)
        })()
        const outcome = data
          ? `${plural(data.rawMeasures, 'raw measure')} and the aggregates of ${plural(data.aggregatedMeasures, 'measure')} deleted`
          : 'its raw measures and aggregates are kept'
        console.log(`Definition deleted: ${name} (${plural(sets.length, 'wildcard set')} removed; ${outcome})`)
        await mirrorToClickHouse(store, run)
      }),
    )
  return cli
}

/** The group keys, positions kept: `slug,-,status` (trailing absent groups left out; none: `-`). */
function groupsOf(definition: Definition): string {
  const keys = [...groupKeys(definition)]
  while (keys.length > 0 && keys.at(-1) === null) keys.pop()
  return keys.map((key) => key ?? '-').join(',') || '-'
}
