import { groupKeys, type Definition } from '../definitions/schema.ts'
import { isRolledUp, type AggregateRow } from './compute.ts'

/**
 * Half away from zero, to 2 places, as the original's NUMERIC(12,2) columns (ClickHouse's round()
 * rounds float ties to even).
 */
export function round2(value: number | null | undefined): number | null {
  if (value == null) return null
  const hundredths = Math.round(Math.abs(value) * 100)
  // Past ~1.8e306, * 100 overflows: such a value has no decimals to round.
  return Number.isFinite(hundredths) ? (Math.sign(value) * hundredths) / 100 : value
}

/**
 * One row of the answer, as the original wrote it: camelCase keys in alphabetical order, null
 * fields left out, `startDate` as `YYYY-MM-DDThh:mm:ss`, groups as `{"<groupNKey>": value}`.
 * Every row has the same shape, absent fields undefined (JSON leaves them out): this runs for
 * every row of every answer, and JSON.stringify is several times faster on objects of one shape.
 */
export function toAggregateResponse(row: AggregateRow, definition: Definition): Record<string, unknown> {
  const [key1, key2, key3] = groupKeys(definition)
  // hideExtremes: a group's min or max is one contributor's value, however large the group.
  const extremes = !definition.hideExtremes
  return {
    avg: present(round2(row.avg)),
    contributors: definition.thresholdOn === 'contributors' ? present(row.contributors) : undefined,
    count: present(row.total_count),
    countNotZero: present(row.not_zero_count),
    createdBy: row.created_by === '' ? undefined : row.created_by,
    firstQuartile: present(round2(row.quartiles?.[0])),
    group1: key1 === null ? undefined : { [key1]: isRolledUp(row, 'group1') ? '*' : row.group1 },
    group2: key2 === null ? undefined : { [key2]: isRolledUp(row, 'group2') ? '*' : row.group2 },
    group3: key3 === null ? undefined : { [key3]: isRolledUp(row, 'group3') ? '*' : row.group3 },
    max: extremes ? present(round2(row.max_value)) : undefined,
    measureName: definition.name,
    median: present(round2(row.quartiles?.[1])),
    min: extremes ? present(round2(row.min_value)) : undefined,
    startDate: row.bucket.replace(' ', 'T'),
    std: present(round2(row.std)),
    sum: present(round2(row.total_sum)),
    thirdQuartile: present(round2(row.quartiles?.[2])),
  }
}

const present = <T>(value: T | null | undefined): T | undefined => value ?? undefined
