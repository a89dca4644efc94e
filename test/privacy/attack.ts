// The attacker of test/privacy: a reader with a token who asks /aggregate every combination of
// parameters for a measure and keeps every row it is shown.
import * as assert from 'uvu/assert'
import { wholePeriods } from '../../src/aggregates/periods.ts'
import type { Period } from '../../src/aggregates/compute.ts'
import type { TestServer } from '../helpers/server.ts'

/** A measure as posted: one day (midnight, so stored buckets are days), an app, two groups. */
export type Measure = {
  day: string
  createdBy: string
  slug: string
  status: string
  value: number
  contributor?: string
}

export type Request = {
  measureName: string
  startDate: string
  endDate: string
  period?: Period
  wildcard?: string
  createdBy?: string
}
// biome-ignore lint/suspicious/noExplicitAny: answer rows, read field by field by the attacks
export type Row = Record<string, any>
// biome-ignore lint/suspicious/noExplicitAny: an answer or an error body
export type Answer = { request: Request; status: number; body: any }

const PERIODS = [undefined, 'day', 'week', 'month', 'year'] as const
const WILDCARDS = [undefined, 'group1', 'group2', 'group1,group2']
const APPS = [undefined, 'app1', 'app2', '']
// Whole month, one day, ranges cutting days and weeks.
const RANGES = [
  ['2022-01-01', '2022-02-01'],
  ['2022-01-05', '2022-01-06'],
  ['2022-01-04T12:00:00', '2022-01-06'],
  ['2022-01-05', '2022-01-10'],
  ['2022-01-03', '2022-01-05'],
]

export function everyRequest(measureName: string): Request[] {
  return RANGES.flatMap(([startDate, endDate]) =>
    PERIODS.flatMap((period) =>
      WILDCARDS.flatMap((wildcard) =>
        APPS.map((createdBy) => ({
          measureName,
          startDate,
          endDate,
          ...(period ? { period } : {}),
          ...(wildcard ? { wildcard } : {}),
          ...(createdBy !== undefined ? { createdBy } : {}),
        })),
      ),
    ),
  )
}

export async function postMeasures(
  server: TestServer,
  token: string,
  measureName: string,
  measures: Measure[],
): Promise<void> {
  const body = measures.map(({ day, createdBy, slug, status, value, contributor }) => ({
    measureName,
    startDate: day,
    value,
    createdBy,
    group1: { slug },
    group2: { status },
    ...(contributor ? { contributor } : {}),
  }))
  const response = await server.post('/measures', body, token)
  assert.is(response.status, 201, await response.clone().text())
}

export async function askAll(server: TestServer, token: string, requests: Request[]): Promise<Answer[]> {
  const answers: Answer[] = []
  for (let start = 0; start < requests.length; start += 20) {
    answers.push(
      ...(await Promise.all(
        requests.slice(start, start + 20).map(async (request) => {
          const response = await server.post('/aggregate', request, token)
          return { request, status: response.status, body: await response.json() }
        }),
      )),
    )
  }
  return answers
}

/** The label /aggregate gives a day's bucket for a period (stored buckets are days here). */
export function labelOf(day: string, period: Period | null): string {
  const date = new Date(`${day}T00:00:00Z`)
  if (period === 'week') date.setUTCDate(date.getUTCDate() - ((date.getUTCDay() + 6) % 7))
  if (period === 'month') date.setUTCDate(1)
  if (period === 'year') date.setUTCMonth(0, 1)
  return date.toISOString().slice(0, 19)
}

/**
 * The indexes of the (day, app, slug, status) cells a row holds, by the API's own rules: `period`
 * is the one the answer is by, and `whole` says whether its ranges were widened to whole periods.
 */
export function cellsOf(row: Row, request: Request, period: Period | null, whole: boolean, cells: Measure[]): number[] {
  const range = { startDate: request.startDate.replace('T', ' '), endDate: request.endDate.replace('T', ' ') }
  const pad = (date: string) => (date.length === 10 ? `${date} 00:00:00` : date)
  const effective = whole
    ? wholePeriods(pad(range.startDate), pad(range.endDate), period)
    : { startDate: pad(range.startDate), endDate: pad(range.endDate) }
  return cells.flatMap((cell, index) => {
    const at = `${cell.day} 00:00:00`
    const holds =
      cell.createdBy === (row.createdBy ?? '') &&
      (row.group1.slug === '*' || row.group1.slug === cell.slug) &&
      (row.group2.status === '*' || row.group2.status === cell.status) &&
      labelOf(cell.day, period) === row.startDate &&
      at >= effective.startDate &&
      at < effective.endDate
    return holds ? [index] : []
  })
}

/** The distinct (day, app, slug, status) cells of `measures`, with their measures' count and sum. */
export function cellsOfMeasures(measures: Measure[]): (Measure & { count: number; sum: number })[] {
  const cells = new Map<string, Measure & { count: number; sum: number }>()
  for (const measure of measures) {
    const key = JSON.stringify([measure.day, measure.createdBy, measure.slug, measure.status])
    const cell = cells.get(key) ?? { ...measure, count: 0, sum: 0 }
    cell.count += 1
    cell.sum += measure.value
    cells.set(key, cell)
  }
  return [...cells.values()]
}
