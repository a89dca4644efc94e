import type { Period } from './compute.ts'

/**
 * [startDate, endDate) widened to the whole periods it overlaps (dates `YYYY-MM-DD hh:mm:ss`), for
 * definitions with fixedPublication or noise: a period's row then holds the same measures whatever
 * the range asked, so two ranges cannot be subtracted to isolate part of a period (a week up to
 * Wednesday minus the week up to Tuesday), and a cell's noise always goes with the same content.
 * Without a period, rows are stored buckets, which a range takes whole already.
 */
export function wholePeriods(
  startDate: string,
  endDate: string,
  period: Period | null,
): { startDate: string; endDate: string } {
  if (period === null || startDate >= endDate) return { startDate, endDate }
  const last = startOf(endDate, period)
  return {
    startDate: format(startOf(startDate, period)),
    endDate: format(last) === endDate ? endDate : format(next(last, period)),
  }
}

/** The first instant of the period holding `date`, as queries.ts labels buckets (weeks are ISO: Monday). */
function startOf(date: string, period: Period): Date {
  const start = new Date(`${date.slice(0, 10)}T00:00:00Z`)
  if (period === 'week') start.setUTCDate(start.getUTCDate() - ((start.getUTCDay() + 6) % 7))
  if (period === 'month') start.setUTCDate(1)
  if (period === 'year') start.setUTCMonth(0, 1)
  return start
}

function next(start: Date, period: Period): Date {
  const date = new Date(start)
  if (period === 'day') date.setUTCDate(date.getUTCDate() + 1)
  if (period === 'week') date.setUTCDate(date.getUTCDate() + 7)
  if (period === 'month') date.setUTCMonth(date.getUTCMonth() + 1)
  if (period === 'year') date.setUTCFullYear(date.getUTCFullYear() + 1)
  return date
}

const format = (date: Date) => date.toISOString().slice(0, 19).replace('T', ' ')
