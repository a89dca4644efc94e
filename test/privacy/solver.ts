/**
 * The attacker's arithmetic: what can be computed exactly by adding and subtracting published
 * totals. Each published row says "the cells I hold add up to this"; the total of a set of cells
 * can be computed iff its indicator vector is a linear combination of the published rows' ones
 * (whatever the statistic, as long as it adds up: count, countNotZero, sum, sum of squares).
 * Exact: fraction-free elimination over BigInt, for the few hundred cells of a test.
 */
export function createSolver(cellCount: number) {
  const basis: { pivot: number; row: bigint[] }[] = []
  const indicator = (cells: Iterable<number>) => {
    const vector = new Array<bigint>(cellCount).fill(0n)
    for (const cell of cells) vector[cell] = 1n
    return vector
  }
  const reduce = (vector: bigint[]) => {
    for (const { pivot, row } of basis) {
      const factor = vector[pivot]
      if (factor === 0n) continue
      vector = vector.map((value, index) => value * row[pivot] - row[index] * factor)
      const divisor = vector.reduce((a, b) => gcd(a, b), 0n)
      if (divisor > 1n) vector = vector.map((value) => value / divisor)
    }
    return vector
  }
  return {
    /** Publishes the total of `cells`. */
    publish(cells: Iterable<number>): void {
      const row = reduce(indicator(cells))
      const pivot = row.findIndex((value) => value !== 0n)
      if (pivot >= 0) basis.push({ pivot, row })
    },
    /** Whether the total of `cells` follows from what was published. */
    computable(cells: Iterable<number>): boolean {
      return reduce(indicator(cells)).every((value) => value === 0n)
    },
  }
}

function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a
  b = b < 0n ? -b : b
  while (b) [a, b] = [b, a % b]
  return a
}
