import type { ClickHouseClient } from '../clickhouse/client.ts'
import type { Store } from '../store/store.ts'
import { createWildcards } from '../wildcards/wildcards.ts'
import { createDefinitions } from './definitions.ts'
import type { Definition } from './schema.ts'

/** What the mirror copies: the SQLite definitions, and which measures have wildcard sets. */
export type MirrorSource = { definitions: Definition[]; withWildcardSets: string[] }

export function mirrorSource(store: Store): MirrorSource {
  return {
    definitions: createDefinitions(store)
      .list()
      .map((record) => record.definition),
    withWildcardSets: [
      ...new Set(
        createWildcards(store)
          .list()
          .map((set) => set.measureName),
      ),
    ],
  }
}

/**
 * Whether aggregates_public may publish a definition's rows: readable through the API, and nothing
 * the view cannot apply as the API does. Noise is drawn in the app; a fixed publication answers
 * in one period only; and with wildcard sets, /aggregate may leave out detail rows (complementary
 * suppression) that the view would show beside the API's "*" rows, giving the hidden ones away.
 */
const publishable = (definition: Definition, withWildcardSets: Set<string>) =>
  (definition.accessApp || definition.accessPublic) &&
  !definition.noise &&
  !definition.fixedPublication &&
  !withWildcardSets.has(definition.name)

/**
 * Makes the measure_definitions table (clickhouse/0005) equal to the SQLite definitions: a new
 * version of each, a tombstone for each name that is gone. Returns how many of each.
 */
export async function mirrorDefinitions(
  client: ClickHouseClient,
  { definitions, withWildcardSets }: MirrorSource,
): Promise<{ mirrored: number; removed: number }> {
  const rolledUp = new Set(withWildcardSets)
  const result = await client.query({ query: 'SELECT name FROM measure_definitions FINAL', format: 'JSONEachRow' })
  const current = new Set(definitions.map((definition) => definition.name))
  const gone = (await result.json<{ name: string }>()).map((row) => row.name).filter((name) => !current.has(name))
  const version = Date.now()
  const rows = [
    ...definitions.map((definition) => ({
      name: definition.name,
      group1_key: definition.group1Key ?? null,
      group2_key: definition.group2Key ?? null,
      group3_key: definition.group3Key ?? null,
      aggregation_threshold: definition.aggregationThreshold,
      threshold_on: definition.thresholdOn ?? 'measures',
      with_quartiles: definition.withQuartiles === true,
      hide_extremes: definition.hideExtremes === true,
      readable: publishable(definition, rolledUp),
      version,
      deleted: 0,
    })),
    ...gone.map((name) => ({
      name,
      aggregation_threshold: 0,
      threshold_on: 'measures',
      readable: false,
      version,
      deleted: 1,
    })),
  ]
  if (rows.length) await client.insert({ table: 'measure_definitions', values: rows, format: 'JSONEachRow' })
  return { mirrored: definitions.length, removed: gone.length }
}
