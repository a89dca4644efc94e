// Months (`YYYY-MM`), the read cache's unit: a measure's rows are cached, checked and evicted by month.

export const monthStart = (month: string) => `${month}-01 00:00:00`

export function nextMonth(month: string): string {
  const [year, index] = month.split('-').map(Number)
  return index === 12 ? `${year + 1}-01` : `${year}-${String(index + 1).padStart(2, '0')}`
}

/** The months (`YYYY-MM`) holding instants of [from, to). */
export function monthsOf(from: string, to: string): string[] {
  const months: string[] = []
  if (from >= to) return months
  for (let month = from.slice(0, 7); monthStart(month) < to; month = nextMonth(month)) months.push(month)
  return months
}

/** The instants (`YYYY-MM-DD hh:mm:ss`) [from, to) of a run of months, in order. */
export const spanOf = (months: string[]): [string, string] => [
  monthStart(months[0]),
  monthStart(nextMonth(months.at(-1)!)),
]
