/**
 * The statistics of one stored bucket row (measure, startDate, createdBy, groups), kept in a form
 * that merges exactly like ClickHouse's aggregate states do: counts, sum, min and max add up; the
 * variance as (count, mean, M2), merged with the parallel formula; quartile values and
 * contributor ids as the multiset and set the states hold. /aggregate computes every answer,
 * periods and rollups included, by merging these (src/aggregates/compute.ts).
 */
export type Stat = {
  /** `YYYY-MM-DD hh:mm:ss`, the stored bucket. */
  startDate: string
  createdBy: string
  group1: string
  group2: string
  group3: string
  /** 1, 2...: another row the original service kept for the same key (a known defect it answered as it was); 0 or absent otherwise. */
  duplicate?: number
  count: number
  countNotZero: number
  sum: number
  min: number
  max: number
  /** Welford's mean and sum of squared deviations: merged without the cancellation of a sum of squares. */
  mean: number
  m2: number
  /**
   * The values kept for quartiles (of measures received while the definition had withQuartiles),
   * as sorted runs: merging rows joins their runs without copying, quartiles read across them
   * (`quartiles`), and a cached row keeps one run (`foldInto`). Null when not read.
   */
  values: Float64Array[] | null
  /** The distinct contributor ids (UInt64 hashes, 0 for none is never one); null when not read. */
  contributors: Set<bigint> | null
  /**
   * A row imported from the original service, and nothing else: its statistics as the original
   * stored them, answered as they are. Merged with anything (new measures, other rows of a period
   * or a rollup) it is gone: avg and std are then computed, and quartiles from the values, when
   * the import kept them all (the original still had every raw measure of the bucket), else absent
   * (`partial`).
   */
  imported?: { avg: number; std: number; quartiles: [number, number, number] | null }
  /** Some of its measures are known by final statistics only (an imported row without its values): no quartiles can be computed. */
  partial?: boolean
}

/** The key of a stored bucket row within a measure. */
export const rowKey = (
  stat: Pick<Stat, 'startDate' | 'createdBy' | 'group1' | 'group2' | 'group3' | 'duplicate'>,
): string =>
  `${stat.startDate}\0${stat.createdBy}\0${stat.group1}\0${stat.group2}\0${stat.group3}${stat.duplicate ? `\0${stat.duplicate}` : ''}`

/** Two stats of the same row (or of rows merged into one answer row) as one. Neither is changed. */
export function mergeStats(a: Stat, b: Stat): Stat {
  const count = a.count + b.count
  const delta = b.mean - a.mean
  return {
    ...a,
    count,
    countNotZero: a.countNotZero + b.countNotZero,
    sum: a.sum + b.sum,
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
    mean: a.mean + (delta * b.count) / count,
    m2: a.m2 + b.m2 + (delta * delta * a.count * b.count) / count,
    // Unknown (not read) merged with anything stays unknown: the cache reads them again when needed.
    values: a.values && b.values ? [...a.values, ...b.values] : null,
    contributors: a.contributors && b.contributors ? union(a.contributors, b.contributors) : null,
    imported: undefined,
    partial: a.partial || b.partial,
  }
}

// Sizes for the read cache's memory bound (src/aggregates/cache.ts), measured on Node 20 (heap and
// array buffers after a full GC, 100,000 rows built as the cache builds them): a row with its
// object, strings, boxed numbers, key and map entry ≈ 540 bytes, with room for its memoized
// quartiles and its place in a merged list; a sorted run (a Float64Array) ≈ 250 beside its values;
// a set of contributors ≈ 200, then ≈ 50 an id.
export const ROW_BYTES = 600
const RUN_BYTES = 250
export const VALUE_BYTES = 8
const SET_BYTES = 200
const CONTRIBUTOR_BYTES = 64

/** The memory a row takes, with its values and contributors (an estimate, from the sizes above). */
export function statBytes(stat: Stat): number {
  let bytes = ROW_BYTES
  for (const run of stat.values ?? []) bytes += RUN_BYTES + run.length * VALUE_BYTES
  return bytes + contributorBytes(stat)
}

/** The memory of a row's contributor set. */
export const contributorBytes = (stat: Stat): number =>
  stat.contributors ? SET_BYTES + stat.contributors.size * CONTRIBUTOR_BYTES : 0

/** Adds `b` into `a` in place, its values in one run: the cache folds loaded measures into its rows this way. */
export function foldInto(a: Stat, b: Stat): void {
  Object.assign(a, oneRunOf(mergeStats(a, b)))
  quartilesOfRow.delete(a)
}

/** The stat with its values in one run (a copy when they were in several). */
export function oneRunOf(stat: Stat): Stat {
  return stat.values && stat.values.length > 1 ? { ...stat, values: [oneRun(stat.values)] } : stat
}

/** The mean; an imported row's as the original stored it. */
export function mean(stat: Stat): number {
  return stat.imported?.avg ?? stat.sum / stat.count
}

/** The sample standard deviation: 0 for a single value, as the API answers (ClickHouse gives NaN); an imported row's as stored. */
export function std(stat: Stat): number {
  if (stat.imported) return stat.imported.std
  return stat.count > 1 ? Math.sqrt(stat.m2 / (stat.count - 1)) : 0
}

/** A row's quartiles, once computed: answers share a cell's rows (and merged rows) until they change. */
const quartilesOfRow = new WeakMap<Stat, [number, number, number] | null>()

/** Quartiles of a row (null: none kept); an imported row's as stored, none for a row partly known by final statistics. */
export function quartilesOf(stat: Stat): [number, number, number] | null {
  if (stat.imported) return stat.imported.quartiles
  if (stat.partial) return null
  let result = quartilesOfRow.get(stat)
  if (result === undefined) quartilesOfRow.set(stat, (result = quartiles(stat.values!)))
  return result
}

const LEVELS = [0.25, 0.5, 0.75] as const

/**
 * First quartile, median and third quartile of the values, exactly as ClickHouse's
 * quantilesExactInclusive computes them (R-7, PostgreSQL percentile_cont, numpy's default): the
 * same floating-point operations in the same order, so answers match the engine's to the bit.
 * Null for no values. The values are read across their sorted runs, never merged: a row and its
 * pending values, or the thirty days of a month, cost a few binary searches.
 */
export function quartiles(runs: Float64Array[]): [number, number, number] | null {
  const nonEmpty = runs.filter((run) => run.length > 0)
  const size = nonEmpty.reduce((total, run) => total + run.length, 0)
  if (size === 0) return null
  const at =
    nonEmpty.length === 1 ? (index: number) => nonEmpty[0][index] : (index: number) => kthOfRuns(nonEmpty, index)
  return LEVELS.map((level) => {
    const h = level * (size - 1) + 1
    const n = Math.floor(h)
    if (n >= size) return at(size - 1)
    return at(n - 1) + (h - n) * (at(n) - at(n - 1))
  }) as [number, number, number]
}

/**
 * The value at `index` (0-based) of the sorted union of sorted runs: a pivot from the widest run's
 * window, counted below and up to it in every run by binary search, narrows every window to the
 * side holding the answer, each round at least halving the widest one.
 */
function kthOfRuns(runs: Float64Array[], index: number): number {
  const low = runs.map(() => 0)
  const high = runs.map((run) => run.length)
  const belowIn = runs.map(() => 0)
  const upToIn = runs.map(() => 0)
  for (;;) {
    let widest = 0
    for (let r = 1; r < runs.length; r++) if (high[r] - low[r] > high[widest] - low[widest]) widest = r
    const pivot = runs[widest][(low[widest] + high[widest]) >> 1]
    let below = 0
    let upTo = 0
    runs.forEach((run, r) => {
      below += belowIn[r] = bound(run, pivot, false)
      upTo += upToIn[r] = bound(run, pivot, true)
    })
    if (index >= below && index < upTo) return pivot
    for (let r = 0; r < runs.length; r++) {
      if (index < below) high[r] = Math.min(high[r], belowIn[r])
      else low[r] = Math.max(low[r], upToIn[r])
    }
  }
}

/** How many values of a sorted run are below `value` (or, `inclusive`, not above it). */
function bound(run: Float64Array, value: number, inclusive: boolean): number {
  let low = 0
  let high = run.length
  while (low < high) {
    const middle = (low + high) >> 1
    if (run[middle] < value || (inclusive && run[middle] === value)) low = middle + 1
    else high = middle
  }
  return low
}

function oneRun(runs: Float64Array[]): Float64Array {
  return runs.reduce((merged, run) => mergeSorted(merged, run), new Float64Array(0))
}

function mergeSorted(a: Float64Array, b: Float64Array): Float64Array {
  if (a.length === 0) return b
  if (b.length === 0) return a
  const merged = new Float64Array(a.length + b.length)
  let i = 0
  let j = 0
  let k = 0
  while (i < a.length && j < b.length) merged[k++] = a[i] <= b[j] ? a[i++] : b[j++]
  while (i < a.length) merged[k++] = a[i++]
  while (j < b.length) merged[k++] = b[j++]
  return merged
}

function union(a: Set<bigint>, b: Set<bigint>): Set<bigint> {
  const [large, small] = a.size >= b.size ? [a, b] : [b, a]
  const result = new Set(large)
  for (const id of small) result.add(id)
  return result
}
