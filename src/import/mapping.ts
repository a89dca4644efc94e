import { GROUPS, groupKeys, type Definition, type Group } from '../definitions/schema.ts'
import type { BucketRow, DefinitionRow, RawRow } from './postgres.ts'

// The original's rows as this service stores them. Dates are wall-clock buckets to the second, as
// POST /measure keeps them; group values are strings, as POST /measure makes them of the JSON value.

/**
 * The threshold of a definition whose aggregation_threshold was NULL: the original compared
 * `count >= NULL`, never true, and so published nothing of it. Kept that way (PostgreSQL's largest
 * int): no row of such a measure is published until its owner sets a real threshold.
 */
const UNPUBLISHED_THRESHOLD = 2_147_483_647

/** A measure_definition row in the definitions file format (validated by checkDefinitions), NULL flags false. */
export function toDefinition(row: DefinitionRow): Record<string, unknown> {
  return {
    id: row.id,
    name: row.name,
    org: row.org,
    createdBy: row.created_by,
    group1Key: row.group1_key,
    group2Key: row.group2_key,
    group3Key: row.group3_key,
    description: row.description,
    aggregationPeriod: row.aggregation_period,
    executionFrequency: row.execution_frequency,
    aggregationThreshold: row.aggregation_threshold ?? UNPUBLISHED_THRESHOLD,
    accessApp: row.access_app ?? false,
    accessPublic: row.access_public ?? false,
    withQuartiles: row.with_quartiles ?? false,
    maxDaysToUpdateQuartile: row.max_days_to_update_quartile,
  }
}

const TIMESTAMP = /^(\d{4})-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/

/** A TIMESTAMP's text as `YYYY-MM-DD hh:mm:ss`, or null outside what a ClickHouse DateTime holds (1970 to 2105). */
export function bucketOf(timestamp: string | null): string | null {
  const match = timestamp === null ? null : TIMESTAMP.exec(timestamp)
  if (!match || / BC$/.test(timestamp!)) return null
  const year = Number(match[1])
  return year >= 1970 && year <= 2105 ? match[0] : null
}

/**
 * The value of a JSONB group as stored here: under the definition's key (else the object's only
 * value, written under another key before the definition changed), as a string; '' for none, or
 * when the definition has no such group (it answers none).
 */
function groupValue(group: unknown, key: string | null): string {
  if (key === null || group === null || typeof group !== 'object' || Array.isArray(group)) return ''
  const object = group as Record<string, unknown>
  const value = Object.hasOwn(object, key) ? object[key] : Object.values(object)[0]
  return value === undefined || value === null ? '' : String(value)
}

export type Key = { createdBy: string; group1: string; group2: string; group3: string }

/** The bucket key of a row within its measure and start date, as this service stores it. */
export function keyOf(
  row: Pick<BucketRow, 'created_by' | 'group1' | 'group2' | 'group3'>,
  definition: Definition,
): Key {
  const [key1, key2, key3] = groupKeys(definition)
  return {
    createdBy: row.created_by ?? '',
    group1: groupValue(row.group1, key1),
    group2: groupValue(row.group2, key2),
    group3: groupValue(row.group3, key3),
  }
}

/** The groups of a key that read "*": an aggregation row of compute-wildcard-aggregate. */
export const wildcardGroups = (key: Key): Group[] => GROUPS.filter((group) => key[group] === '*')

const number = (text: string | null): number | null => (text === null ? null : Number(text))

// Rows are inserted as JSONCompactEachRow, values in the order of these columns: about half the
// engine's time of JSONEachRow objects (measured: 9 against 15 µs a row into raw_measures).

/** The columns of imported_aggregates (clickhouse/0007) that toImportedBucket fills, in order. */
export const BUCKET_COLUMNS = [
  'measure_name',
  'start_date',
  'created_by',
  'group1',
  'group2',
  'group3',
  'duplicate',
  'count',
  'count_not_zero',
  'sum',
  'min',
  'max',
  'avg',
  'std',
  'first_quartile',
  'median',
  'third_quartile',
  'raw_purged',
  'imported_at',
] as const

/** An imported_aggregates row: the original's statistics as stored. */
export function toImportedBucket(
  row: BucketRow,
  startDate: string,
  key: Key,
  duplicate: number,
  importedAt: string,
): unknown[] {
  const count = row.count!
  const sum = number(row.sum) ?? 0
  return [
    row.measure_name,
    startDate,
    key.createdBy,
    key.group1,
    key.group2,
    key.group3,
    duplicate,
    count,
    // Rows older than the original's count_not_zero column have none: read 0.
    row.count_not_zero ?? 0,
    sum,
    number(row.min) ?? 0,
    number(row.max) ?? 0,
    number(row.avg) ?? sum / count,
    number(row.std) ?? 0,
    number(row.first_quartile),
    number(row.median),
    number(row.third_quartile),
    row.raw_purged,
    importedAt,
  ]
}

/** The columns of raw_measures that toRawMeasure fills, in order (the others take their defaults). */
export const RAW_COLUMNS = [
  'measure_name',
  'start_date',
  'created_by',
  'group1',
  'group2',
  'group3',
  'value',
  'with_quartiles',
  'received_at',
  'original_id',
  'in_imported_aggregates',
] as const

/**
 * A raw_measures row: as POST /measure would have stored it, received when the original received
 * it, with its original id, and left out of the aggregates when its aggregation row counts it.
 */
export function toRawMeasure(row: RawRow, startDate: string, definition: Definition, importedAt: string): unknown[] {
  const key = keyOf(row, definition)
  return [
    row.measure_name,
    startDate,
    key.createdBy,
    key.group1,
    key.group2,
    key.group3,
    Number(row.value),
    definition.withQuartiles === true,
    // DateTime64(3): the TIMESTAMP's text to the millisecond.
    bucketOf(row.last_updated) === null ? importedAt : row.last_updated!.slice(0, 23),
    row.id,
    row.aggregated,
  ]
}
