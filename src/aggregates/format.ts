import { GROUPS, groupKeys, type Definition } from '../definitions/schema.ts'
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
 */
export function toAggregateResponse(row: AggregateRow, definition: Definition): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    measureName: definition.name,
    startDate: row.bucket.replace(' ', 'T'),
    createdBy: row.created_by === '' ? null : row.created_by,
    count: row.total_count,
    countNotZero: row.not_zero_count,
    sum: round2(row.total_sum),
    // hideExtremes: a group's min or max is one contributor's value, however large the group.
    min: definition.hideExtremes ? null : round2(row.min_value),
    max: definition.hideExtremes ? null : round2(row.max_value),
    contributors: definition.thresholdOn === 'contributors' ? row.contributors : null,
    avg: round2(row.avg),
    std: round2(row.std),
    firstQuartile: round2(row.quartiles?.[0]),
    median: round2(row.quartiles?.[1]),
    thirdQuartile: round2(row.quartiles?.[2]),
  }
  groupKeys(definition).forEach((key, index) => {
    const group = GROUPS[index]
    if (key !== null) fields[group] = { [key]: isRolledUp(row, group) ? '*' : row[group] }
  })
  return Object.fromEntries(
    Object.entries(fields)
      .filter(([, value]) => value != null)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  )
}
