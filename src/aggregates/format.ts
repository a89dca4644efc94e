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
 * A quartile to 2 places, as the original stored it: percentile_cont gives a float, which its
 * SQLAlchemy Numeric(12, 2) column read back as Decimal('%.2f' % value): the binary value rounded
 * correctly, an exact tie to even. Only an odd multiple of 1/8 is a tie in binary (x.125, x.375:
 * round2 would take those away from zero); elsewhere Math.round of the hundredths is right but
 * within an ulp of a half, where toFixed rounds the exact value.
 */
export function roundQuartile(value: number | null | undefined): number | null {
  if (value == null) return null
  const hundredths = value * 100
  if (Number.isInteger(value * 8) && !Number.isInteger(value * 4)) {
    const below = Math.floor(hundredths)
    return (below % 2 === 0 ? below : below + 1) / 100
  }
  const fraction = Math.abs(hundredths % 1)
  return Math.abs(fraction - 0.5) > 1e-9 ? Math.round(hundredths) / 100 : Number(value.toFixed(2))
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
    firstQuartile: present(roundQuartile(row.quartiles?.[0])),
    group1: key1 === null ? undefined : { [key1]: isRolledUp(row, 'group1') ? '*' : row.group1 },
    group2: key2 === null ? undefined : { [key2]: isRolledUp(row, 'group2') ? '*' : row.group2 },
    group3: key3 === null ? undefined : { [key3]: isRolledUp(row, 'group3') ? '*' : row.group3 },
    max: extremes ? present(round2(row.max_value)) : undefined,
    measureName: definition.name,
    median: present(roundQuartile(row.quartiles?.[1])),
    min: extremes ? present(round2(row.min_value)) : undefined,
    startDate: row.bucket.replace(' ', 'T'),
    std: present(round2(row.std)),
    sum: present(round2(row.total_sum)),
    thirdQuartile: present(roundQuartile(row.quartiles?.[2])),
  }
}

const present = <T>(value: T | null | undefined): T | undefined => value ?? undefined
