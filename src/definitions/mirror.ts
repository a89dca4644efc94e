import type { ClickHouseClient } from '../clickhouse/client.ts'
import type { Definition } from './schema.ts'

/**
 * Whether aggregates_public may publish a definition's rows: readable through the API, and no
 * option that the view cannot apply as the API does (noise is drawn in the app; a fixed
 * publication answers in one period only).
 */
const publishable = (definition: Definition) =>
  (definition.accessApp || definition.accessPublic) && !definition.noise && !definition.fixedPublication

/**
 * Makes the measure_definitions table (clickhouse/0005) equal to `definitions`, the SQLite set:
 * a new version of each, a tombstone for each name that is gone. Returns how many of each.
 */
export async function mirrorDefinitions(client: ClickHouseClient, definitions: Definition[]): Promise<{ mirrored: number; removed: number }> {
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
      readable: publishable(definition),
      version,
      deleted: 0,
    })),
    ...gone.map((name) => ({ name, aggregation_threshold: 0, threshold_on: 'measures', readable: false, version, deleted: 1 })),
  ]
  if (rows.length) await client.insert({ table: 'measure_definitions', values: rows, format: 'JSONEachRow' })
  return { mirrored: definitions.length, removed: gone.length }
}
