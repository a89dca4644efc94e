import type { CAC } from 'cac'
import { GROUPS, groupWithoutKey, type Definition } from '../definitions/schema.ts'
import { UsageError } from '../errors.ts'
import type { WildcardSet } from '../wildcards/wildcards.ts'
import {
  commands,
  definitionOf,
  definitionsOf,
  mirrorToClickHouse,
  wildcardsOf,
  withStore,
  withStoreAndClickHouse,
  type GlobalOptions,
} from './common.ts'
import { formatTable } from './table.ts'

type ComputeOptions = GlobalOptions & { fromDate?: unknown; toDate?: unknown; remove?: boolean }

/**
 * `dacc compute-wildcard-aggregate`, the original's name: here nothing is computed ahead, the set
 * is registered and every /aggregate answer for the measure computes its "*" rows from the states.
 */
export function addComputeWildcardAggregate(cli: CAC): void {
  cli
    .command(
      'compute-wildcard-aggregate <name> <groups>',
      'Register a wildcard set: /aggregate then also returns the rows where these groups (e.g. group1,group3) read "*"',
    )
    .option('--from-date <date>', 'only for buckets from this date (YYYY-MM-DD or ISO-8601, inclusive)')
    .option('--to-date <date>', 'only for buckets before this date')
    .option('--remove', 'unregister the set instead')
    .action((name: string, groups: string, options: ComputeOptions) =>
      withStoreAndClickHouse(options, async (store, run) => {
        const names = groupsOf(definitionOf(await definitionsOf(store), name), groups)
        const wildcards = await wildcardsOf(store)
        const [fromDate, toDate] = [options.fromDate, options.toDate].map((date) =>
          date === undefined ? undefined : String(date),
        )
        if (!options.remove) {
          const set = wildcards.register(name, names, { fromDate, toDate })
          console.log(`Wildcard set registered for ${name}: ${set.groups.join(',')} (${rangeOf(set)})`)
        } else {
          if (fromDate !== undefined || toDate !== undefined) throw new UsageError('--remove takes no dates')
          const removed = wildcards.remove(name, names)
          const canonical = GROUPS.filter((group) => names.includes(group)).join(',')
          if (!removed) throw new UsageError(`no wildcard set ${canonical} is registered for ${name}`)
          console.log(`Wildcard set removed for ${name}: ${canonical}`)
        }
        // aggregates_public leaves out measures with wildcard sets (src/definitions/mirror.ts).
        await mirrorToClickHouse(store, run)
      }),
    )
}

/** `dacc wildcard list [name]`. */
export function wildcardCommands(): CAC {
  const cli = commands('dacc wildcard')
  cli
    .command('list [name]', "List the registered wildcard sets (all, or one measure's)")
    .action((name: string | undefined, options: GlobalOptions) =>
      withStore(options, async (store) => {
        if (name !== undefined) definitionOf(await definitionsOf(store), name)
        const sets = (await wildcardsOf(store)).list(name)
        if (sets.length === 0) return console.log('No wildcard sets registered')
        const rows = sets.map((set) => [set.measureName, set.groups.join(','), rangeOf(set), set.createdAt])
        console.log(formatTable(['measure', 'groups', 'buckets', 'registered'], rows))
      }),
    )
  return cli
}

/**
 * The group names of `input` (`group1,group3`). Names outside group1..3 are refused by the
 * registry itself; a group the definition does not have is refused here, as /aggregate refuses it.
 */
function groupsOf(definition: Definition, input: string): string[] {
  const names = input.split(',').map((name) => name.trim())
  const missing = groupWithoutKey(definition, names)
  if (missing) throw new UsageError(`wildcard group does not match measure definition: ${missing}`)
  return names
}

function rangeOf(set: WildcardSet): string {
  if (set.fromDate && set.toDate) return `buckets from ${set.fromDate} before ${set.toDate}`
  if (set.fromDate) return `buckets from ${set.fromDate}`
  if (set.toDate) return `buckets before ${set.toDate}`
  return 'every bucket'
}
