import { round2, roundQuartile } from '../../src/aggregates/format.ts'

export type Statistics = {
  count: number
  countNotZero: number
  sum: number
  min: number
  max: number
  avg: number
  std: number
  firstQuartile: number
  median: number
  thirdQuartile: number
}

/** Linear interpolation between the closest ranks: PostgreSQL's percentile_cont, numpy's default. */
function percentile(sorted: number[], p: number): number {
  const rank = (sorted.length - 1) * p
  const below = Math.floor(rank)
  const above = Math.min(below + 1, sorted.length - 1)
  return sorted[below] + (rank - below) * (sorted[above] - sorted[below])
}

/** The statistics of raw values, computed directly from them (two-pass sample variance), unrounded. */
export function statistics(values: number[]): Statistics {
  const count = values.length
  const sum = values.reduce((total, value) => total + value, 0)
  const avg = sum / count
  const squares = values.reduce((total, value) => total + (value - avg) ** 2, 0)
  const sorted = [...values].sort((a, b) => a - b)
  return {
    count,
    countNotZero: values.filter((value) => value !== 0).length,
    sum,
    min: sorted[0],
    max: sorted[count - 1],
    avg,
    std: count > 1 ? Math.sqrt(squares / (count - 1)) : 0,
    firstQuartile: percentile(sorted, 0.25),
    median: percentile(sorted, 0.5),
    thirdQuartile: percentile(sorted, 0.75),
  }
}

/** The statistics as the API writes them: decimals to 2 places, quartiles only when asked for. */
export function expectedFields(values: number[], withQuartiles: boolean): Record<string, number> {
  const { firstQuartile, median, thirdQuartile, count, countNotZero, ...decimals } = statistics(values)
  const quartiles = withQuartiles ? { firstQuartile, median, thirdQuartile } : {}
  return Object.fromEntries([
    ['count', count],
    ['countNotZero', countNotZero],
    ...Object.entries(decimals).map(([key, value]) => [key, round2(value)!]),
    ...Object.entries(quartiles).map(([key, value]) => [key, roundQuartile(value)!]),
  ])
}
