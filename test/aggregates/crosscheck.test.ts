import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { GROUPS, type Group } from '../../src/wildcards/wildcards.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { expectedFields } from './stats.ts'

// Random measures posted through HTTP, then every /aggregate answer compared with statistics
// computed here from the posted values.
const NAME = 'cross-check'
const KEYS = ['slug', 'status', 'kind']
const THRESHOLD = 4
const MEASURES = 3000
const DAYS = 10 // from Monday 2021-12-27: a year, a month and two weeks change on the way
const RANGES = [
  { startDate: '2021-12-27', endDate: '2022-01-06' },
  { startDate: '2021-12-29T12:00:00', endDate: '2022-01-04' },
]
const PERIODS = [undefined, 'day', 'week', 'month', 'year'] as const
type Period = (typeof PERIODS)[number]
const WILDCARDS: Group[][] = [[], ['group1'], ['group2'], ['group3'], ['group1', 'group3'], ['group1', 'group2', 'group3']]
const REGISTERED = { groups: ['group2'] as Group[], fromDate: '2021-12-29 00:00:00', toDate: '2022-01-03 00:00:00' }

type Measure = { startDate: string; createdBy: string; groups: string[]; value: number }

/** mulberry32: a small seeded PRNG, so that every run posts the same measures. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function generate(count: number, random: () => number): Measure[] {
  const pick = <T,>(weighted: [T, number][]): T => {
    let left = random()
    for (const [value, weight] of weighted) if ((left -= weight) < 0) return value
    return weighted[weighted.length - 1][0]
  }
  return Array.from({ length: count }, () => {
    const day = new Date(Date.UTC(2021, 11, 27 + Math.floor(random() * DAYS))).toISOString().slice(0, 10)
    const time = pick([['00:00:00', 0.5], ['12:00:00', 0.4], ['18:30:15', 0.1]])
    return {
      startDate: `${day} ${time}`,
      createdBy: pick([['app1', 0.7], ['app2', 0.25], ['', 0.05]]),
      groups: [pick([['enedis', 0.55], ['grdf', 0.3], ['', 0.15]]), pick([['ok', 0.8], ['ko', 0.2]]), pick([['x', 0.85], ['y', 0.15]])],
      // Quarters: sums and interpolations are exact in binary floating point, whatever the order of the additions.
      value: random() < 0.1 ? 0 : Math.floor(random() * 441 - 40) / 4,
    }
  })
}

/** The label of a measure's bucket, `YYYY-MM-DD hh:mm:ss`. */
function labelOf(period: Period, startDate: string): string {
  const day = startDate.slice(0, 10)
  switch (period) {
    case undefined:
      return startDate
    case 'day':
      return `${day} 00:00:00`
    case 'week': {
      const date = new Date(`${day}T00:00:00Z`)
      date.setUTCDate(date.getUTCDate() - ((date.getUTCDay() + 6) % 7))
      return `${date.toISOString().slice(0, 10)} 00:00:00`
    }
    case 'month':
      return `${day.slice(0, 7)}-01 00:00:00`
    case 'year':
      return `${day.slice(0, 4)}-01-01 00:00:00`
  }
}

type Rollup = { groups: Group[]; fromDate: string | null; toDate: string | null }
type Bucket = { label: string; createdBy: string; groups: (string | null)[]; values: number[] }

/** What /aggregate must answer, and how many buckets the threshold hides. */
function expected(measures: Measure[], period: Period, rollups: Rollup[]): { rows: Record<string, unknown>[]; hidden: number } {
  const buckets = new Map<string, Bucket>()
  for (const rollup of [{ groups: [], fromDate: null, toDate: null }, ...rollups]) {
    for (const measure of measures) {
      const label = labelOf(period, measure.startDate)
      if ((rollup.fromDate && label < rollup.fromDate) || (rollup.toDate && label >= rollup.toDate)) continue
      // null: rolled up, which a real empty value must never be taken for
      const groups = GROUPS.map((group, index) => (rollup.groups.includes(group) ? null : measure.groups[index]))
      const key = JSON.stringify([label, measure.createdBy, groups])
      if (!buckets.has(key)) buckets.set(key, { label, createdBy: measure.createdBy, groups, values: [] })
      buckets.get(key)!.values.push(measure.value)
    }
  }
  const shown = [...buckets.values()].filter((bucket) => bucket.values.length >= THRESHOLD)
  const sortKey = (bucket: Bucket) => [bucket.label, bucket.createdBy, ...bucket.groups.flatMap((value) => (value === null ? ['1', ''] : ['0', value]))]
  shown.sort((a, b) => {
    const [left, right] = [sortKey(a), sortKey(b)]
    const index = left.findIndex((part, i) => part !== right[i])
    return index < 0 ? 0 : left[index] < right[index] ? -1 : 1
  })
  const rows = shown.map((bucket) => ({
    ...expectedFields(bucket.values, true),
    ...(bucket.createdBy ? { createdBy: bucket.createdBy } : {}),
    ...Object.fromEntries(GROUPS.map((group, index) => [group, { [KEYS[index]]: bucket.groups[index] ?? '*' }])),
    measureName: NAME,
    startDate: bucket.label.replace(' ', 'T'),
  }))
  return { rows, hidden: buckets.size - shown.length }
}

type Context = { server: TestServer; token: string; measures: Measure[] }
const test = suite<Context>('/aggregate cross-check', {} as Context)

test.before(async (context) => {
  const server = (context.server = await startTestServer())
  context.token = await server.token()
  server.define({ name: NAME, group1Key: KEYS[0], group2Key: KEYS[1], group3Key: KEYS[2], aggregationThreshold: THRESHOLD, accessApp: true, withQuartiles: true })
  server.deps.wildcards.register(NAME, REGISTERED.groups, REGISTERED)
  context.measures = generate(MEASURES, prng(20220101))
})
test.after(async ({ server }) => server.close())

test(`${MEASURES} random measures posted concurrently are all acknowledged`, async ({ server, token, measures }) => {
  for (let start = 0; start < measures.length; start += 250) {
    const responses = await Promise.all(
      measures.slice(start, start + 250).map((measure) =>
        server.post(
          '/measure',
          {
            measureName: NAME,
            startDate: measure.startDate.replace(' ', 'T'),
            value: measure.value,
            ...(measure.createdBy ? { createdBy: measure.createdBy } : {}),
            ...Object.fromEntries(GROUPS.map((group, index) => [group, { [KEYS[index]]: measure.groups[index] }])),
          },
          token,
        ),
      ),
    )
    assert.equal(new Set(responses.map((response) => response.status)), new Set([201]))
  }
})

test('every answer equals the statistics of the posted values, for every period, range and wildcard', async ({ server, token, measures }) => {
  let compared = 0
  for (const range of RANGES) {
    const start = `${range.startDate.replace('T', ' ')}${range.startDate.length === 10 ? ' 00:00:00' : ''}`
    const end = `${range.endDate} 00:00:00`
    const inRange = measures.filter((measure) => measure.startDate >= start && measure.startDate < end)
    for (const period of PERIODS) {
      for (const wildcard of WILDCARDS) {
        // The request's wildcard covers the whole range, the registered set only its own.
        const same = wildcard.join() === REGISTERED.groups.join()
        const rollups = [...(wildcard.length ? [{ groups: wildcard, fromDate: null, toDate: null }] : []), ...(same ? [] : [REGISTERED])]
        const { rows, hidden } = expected(inRange, period, rollups)
        const response = await server.post('/aggregate', { measureName: NAME, ...range, period, wildcard }, token)
        const about = `${JSON.stringify(range)} period ${period} wildcard ${wildcard}`
        assert.is(response.status, 200, about)
        const answer = (await response.json()) as unknown[]
        assert.ok(rows.length > 0 && hidden > 0, `${about}: the data should show some buckets and hide others`)
        assert.equal(answer, rows, about)
        compared += answer.length
      }
    }
  }
  assert.ok(compared > 1000, `${compared} rows compared`)
})

test('a createdBy filter keeps the same statistics for that app', async ({ server, token, measures }) => {
  const range = RANGES[0]
  const app2 = measures.filter((measure) => measure.createdBy === 'app2')
  for (const period of PERIODS) {
    const response = await server.post('/aggregate', { measureName: NAME, ...range, period, createdBy: 'app2', wildcard: 'group1' }, token)
    assert.equal(await response.json(), expected(app2, period, [{ groups: ['group1'], fromDate: null, toDate: null }, REGISTERED]).rows, String(period))
  }
})

test.run()
