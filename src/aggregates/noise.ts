import { GROUPS, type Noise } from '../definitions/schema.ts'
import type { PrivacyKeys } from '../privacy/keys.ts'
import { discreteLaplace } from '../privacy/laplace.ts'
import { isRolledUp, type AggregateRow, type Period } from './compute.ts'

/**
 * The shown rows with discrete Laplace noise added to their counts (count, countNotZero,
 * contributors: sensitivity 1, scale 1/ε) and sum (in hundredths, the API's precision: values are
 * clamped to [valueMin, valueMax] at ingest, so one measure moves a sum by at most
 * max(|valueMin|, |valueMax|), plus half a hundredth either way from rounding), avg recomputed
 * from them. A cell's noise comes from a keyed hash of the cell (measure, granularity, bucket,
 * createdBy, groups) and the statistic: asking again, or through another request holding the same
 * cell, gives the same noise, so it cannot be averaged away. Counts stay integers of at least 0.
 */
export function addNoise(
  rows: AggregateRow[],
  measureName: string,
  period: Period | null,
  noise: Noise,
  keys: PrivacyKeys,
): AggregateRow[] {
  const countScale = 1 / noise.epsilon
  const sumScale = (Math.ceil(100 * Math.max(Math.abs(noise.valueMin), Math.abs(noise.valueMax))) + 1) / noise.epsilon
  return rows.map((row) => {
    const groups = GROUPS.map((group) => (isRolledUp(row, group) ? null : row[group]))
    const draw = (statistic: string, scale: number) =>
      discreteLaplace(
        keys.noiseBytes(
          JSON.stringify([measureName, period ?? 'stored', row.bucket, row.created_by, groups, statistic]),
        ),
        scale,
      )
    const count = Math.max(0, row.total_count! + draw('count', countScale))
    const sum = (Math.round(row.total_sum! * 100) + draw('sum', sumScale)) / 100
    return {
      ...row,
      total_count: count,
      not_zero_count: Math.min(count, Math.max(0, row.not_zero_count! + draw('countNotZero', countScale))),
      total_sum: sum,
      avg: count > 0 ? sum / count : null,
      ...(row.contributors == null
        ? {}
        : { contributors: Math.max(0, row.contributors + draw('contributors', countScale)) }),
    }
  })
}
