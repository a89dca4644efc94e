import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { GROUPS, type Group } from '../../src/definitions/schema.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { createSolver } from '../privacy/solver.ts'
import { expectedFields } from './stats.ts'
import { prng } from '../helpers/random.ts'

// Random measures posted through HTTP, then every /aggregate answer compared with statistics
// computed here from the posted values, and, where suppression may leave rows out, checked
// against the attacker's arithmetic instead of src/aggregates/suppression.ts.
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
const WILDCARDS: Group[][] = [
  [],
  ['group1'],
  ['group2'],
  ['group3'],
  ['group1', 'group3'],
  ['group1', 'group2', 'group3'],
]
const REGISTERED = { groups: ['group2'] as Group[], fromDate: '2021-12-29 00:00:00', toDate: '2022-01-03 00:00:00' }

type Measure = { startDate: string; createdBy: string; groups: string[]; value: number }

function generate(count: number, random: () => number): Measure[] {
  const pick = <T>(weighted: [T, number][]): T => {
    let left = random()
    for (const [value, weight] of weighted) if ((left -= weight) < 0) return value
    return weighted[weighted.length - 1][0]
  }
  return Array.from({ length: count }, () => {
    const day = new Date(Date.UTC(2021, 11, 27 + Math.floor(random() * DAYS))).toISOString().slice(0, 10)
    const time = pick([
      ['00:00:00', 0.5],
      ['12:00:00', 0.4],
      ['18:30:15', 0.1],
    ])
    return {
      startDate: `${day} ${time}`,
      createdBy: pick([
        ['app1', 0.7],
        ['app2', 0.25],
        ['', 0.05],
      ]),
      groups: [
        pick([
          ['enedis', 0.55],
          ['grdf', 0.3],
          ['', 0.15],
        ]),
        pick([
          ['ok', 0.8],
          ['ko', 0.2],
        ]),
        pick([
          ['x', 0.85],
          ['y', 0.15],
        ]),
      ],
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

/** Every bucket of the answer's grouping sets (shown or not), in the API's order: the detailed rows, then each rollup. */
function bucketsOf(measures: Measure[], period: Period, rollups: Rollup[]): Bucket[] {
  const buckets = new Map<string, Bucket>()
  for (const rollup of [{ groups: [], fromDate: null, toDate: null }, ...rollups]) {
    for (const measure of measures) {
      const label = labelOf(period, measure.startDate)
      if ((rollup.fromDate && label < rollup.fromDate) || (rollup.toDate && label >= rollup.toDate)) continue
      // null: rolled up, which a real empty value must never be taken for
      const groups = GROUPS.map((group, index) => (rollup.groups.includes(group) ? null : measure.groups[index]))
      const key = keyOf({ label, createdBy: measure.createdBy, groups })
      if (!buckets.has(key)) buckets.set(key, { label, createdBy: measure.createdBy, groups, values: [] })
      buckets.get(key)!.values.push(measure.value)
    }
  }
  const sortKey = (bucket: Bucket) => [
    bucket.label,
    bucket.createdBy,
    ...bucket.groups.flatMap((value) => (value === null ? ['1', ''] : ['0', value])),
  ]
  return [...buckets.values()].sort((a, b) => {
    const [left, right] = [sortKey(a), sortKey(b)]
    const index = left.findIndex((part, i) => part !== right[i])
    return index < 0 ? 0 : left[index] < right[index] ? -1 : 1
  })
}

const keyOf = (bucket: Pick<Bucket, 'label' | 'createdBy' | 'groups'>) =>
  JSON.stringify([bucket.label, bucket.createdBy, bucket.groups.map((value) => value ?? '*')])
const keyOfRow = (row: Row) =>
  JSON.stringify([
    row.startDate.replace('T', ' '),
    row.createdBy ?? '',
    GROUPS.map((group, index) => row[group][KEYS[index]]),
  ])

/** A bucket as /aggregate writes it, statistics computed here from the posted values. */
function rowOf(bucket: Bucket): Row {
  return {
    ...expectedFields(bucket.values, true),
    ...(bucket.createdBy ? { createdBy: bucket.createdBy } : {}),
    ...Object.fromEntries(GROUPS.map((group, index) => [group, { [KEYS[index]]: bucket.groups[index] ?? '*' }])),
    measureName: NAME,
    startDate: bucket.label.replace(' ', 'T'),
  }
}

// biome-ignore lint/suspicious/noExplicitAny: answer rows, compared field by field
type Row = Record<string, any>
type Checked = { shown: number; suppressed: number; leaksWithoutSuppression: number }

/**
 * Checks an answer against the buckets computed here. Without rollups it is exactly the buckets
 * at or over the threshold, as the original's. With rollups, rows may be left out beyond the
 * threshold (complementary suppression), so: every returned row is such a bucket, with its exact
 * statistics, in order; every one left out is in a (bucket, createdBy) where some detailed row is
 * under the threshold (nothing else is a reason to hide anything); and no row missing from the
 * answer follows from the returned ones by adding and subtracting (test/privacy/solver.ts).
 */
function check(answer: Row[], buckets: Bucket[], rollups: Rollup[], threshold: number, about: string): Checked {
  const eligible = buckets.filter((bucket) => bucket.values.length >= threshold)
  if (rollups.length === 0) {
    assert.equal(answer, eligible.map(rowOf), about)
    return { shown: answer.length, suppressed: 0, leaksWithoutSuppression: 0 }
  }
  const returned = new Set(answer.map(keyOfRow))
  assert.equal(
    answer,
    eligible.filter((bucket) => returned.has(keyOf(bucket))).map(rowOf),
    `${about}: returned rows are buckets over the threshold, with their statistics`,
  )
  const underThreshold = new Set(
    buckets
      .filter((bucket) => bucket.groups.every((value) => value !== null) && bucket.values.length < threshold)
      .map((bucket) => `${bucket.label} ${bucket.createdBy}`),
  )
  const suppressed = eligible.filter((bucket) => !returned.has(keyOf(bucket)))
  for (const bucket of suppressed)
    assert.ok(
      underThreshold.has(`${bucket.label} ${bucket.createdBy}`),
      `${about}: ${keyOf(bucket)} left out without a reason`,
    )
  // Rows of different (bucket, createdBy) hold different measures: each part is solved alone, its
  // unknowns the detailed rows (the finest the answer has), every row the sum of those it holds.
  let leaksWithoutSuppression = 0
  const parts = new Map<string, Bucket[]>()
  for (const bucket of buckets) {
    const part = `${bucket.label} ${bucket.createdBy}`
    if (!parts.has(part)) parts.set(part, [])
    parts.get(part)!.push(bucket)
  }
  for (const part of parts.values()) {
    const cells = part.filter((bucket) => bucket.groups.every((value) => value !== null))
    const holds = (bucket: Bucket) =>
      cells.flatMap((cell, index) =>
        bucket.groups.every((value, i) => value === null || value === cell.groups[i]) ? [index] : [],
      )
    const solver = createSolver(cells.length)
    const thresholdOnly = createSolver(cells.length)
    for (const bucket of part) {
      if (returned.has(keyOf(bucket))) solver.publish(holds(bucket))
      if (bucket.values.length >= threshold) thresholdOnly.publish(holds(bucket))
    }
    for (const bucket of part) {
      if (returned.has(keyOf(bucket))) continue
      assert.not.ok(
        solver.computable(holds(bucket)),
        `${about}: ${keyOf(bucket)} is hidden, yet follows from the answer`,
      )
      if (bucket.values.length < threshold && thresholdOnly.computable(holds(bucket))) leaksWithoutSuppression += 1
    }
  }
  return { shown: answer.length, suppressed: suppressed.length, leaksWithoutSuppression }
}

type Context = { server: TestServer; token: string; measures: Measure[] }
const test = suite<Context>('/aggregate cross-check', {} as Context)

// The same measures for three definitions: NAME, with a registered rollup, so that every answer
// has rollups; PLAIN, without one, so that an answer without `wildcard` has none; and OPEN, with a
// threshold of 1, so that nothing is ever hidden and every answer, rollups included, is whole.
const PLAIN = 'cross-check-plain'
const OPEN = 'cross-check-open'
const DEFINITIONS = [
  { name: NAME, threshold: THRESHOLD, registered: [REGISTERED] },
  { name: PLAIN, threshold: THRESHOLD, registered: [] },
  { name: OPEN, threshold: 1, registered: [REGISTERED] },
]

test.before(async (context) => {
  const server = (context.server = await startTestServer())
  context.token = await server.token()
  for (const { name, threshold, registered } of DEFINITIONS) {
    server.define({
      name,
      group1Key: KEYS[0],
      group2Key: KEYS[1],
      group3Key: KEYS[2],
      aggregationThreshold: threshold,
      accessApp: true,
      withQuartiles: true,
    })
    for (const set of registered) server.deps.wildcards.register(name, set.groups, set)
  }
  context.measures = generate(MEASURES, prng(20220101))
})
test.after(async ({ server }) => server.close())

const bodyOf = (measureName: string, measure: Measure) => ({
  measureName,
  startDate: measure.startDate.replace(' ', 'T'),
  value: measure.value,
  ...(measure.createdBy ? { createdBy: measure.createdBy } : {}),
  ...Object.fromEntries(GROUPS.map((group, index) => [group, { [KEYS[index]]: measure.groups[index] }])),
})

test(`${MEASURES} random measures posted concurrently are all acknowledged`, async ({ server, token, measures }) => {
  for (let start = 0; start < measures.length; start += 250) {
    const responses = await Promise.all(
      measures.slice(start, start + 250).map((measure) => server.post('/measure', bodyOf(NAME, measure), token)),
    )
    assert.equal(new Set(responses.map((response) => response.status)), new Set([201]))
  }
  for (const name of [PLAIN, OPEN]) {
    const response = await server.post(
      '/measures',
      measures.map((measure) => bodyOf(name, measure)),
      token,
    )
    assert.is(response.status, 201, name)
  }
})

/** The rollups of an answer: the request's wildcard over the whole range, the registered set over its own (once). */
const rollupsOf = (wildcard: Group[], registered: Rollup[]): Rollup[] => [
  ...(wildcard.length ? [{ groups: wildcard, fromDate: null, toDate: null }] : []),
  ...registered.filter((set) => set.groups.join() !== wildcard.join()),
]

for (const { name, threshold, registered } of DEFINITIONS) {
  test(`${name}: every answer checked against the posted values, for every period, range and wildcard`, async ({
    server,
    token,
    measures,
  }) => {
    const totals = { shown: 0, suppressed: 0, leaksWithoutSuppression: 0 }
    for (const range of RANGES) {
      const start = `${range.startDate.replace('T', ' ')}${range.startDate.length === 10 ? ' 00:00:00' : ''}`
      const end = `${range.endDate} 00:00:00`
      const inRange = measures.filter((measure) => measure.startDate >= start && measure.startDate < end)
      for (const period of PERIODS) {
        for (const wildcard of WILDCARDS) {
          const rollups = rollupsOf(wildcard, registered)
          const buckets = bucketsOf(inRange, period, rollups)
          const response = await server.post('/aggregate', { measureName: name, ...range, period, wildcard }, token)
          const about = `${name} ${JSON.stringify(range)} period ${period} wildcard ${wildcard}`
          assert.is(response.status, 200, about)
          const answer = ((await response.json()) as Row[]).map((row): Row => ({ ...row, measureName: NAME }))
          const hidden = buckets.filter((bucket) => bucket.values.length < threshold).length
          assert.ok(
            answer.length > 0 && (threshold === 1 ? hidden === 0 : hidden > 0),
            `${about}: the data should show some buckets and hide others`,
          )
          const checked = check(answer, buckets, rollups, threshold, about)
          for (const key of Object.keys(totals) as (keyof Checked)[]) totals[key] += checked[key]
        }
      }
    }
    assert.ok(totals.shown > 1000, `${totals.shown} rows compared`)
    if (threshold === 1) assert.is(totals.suppressed, 0)
    else {
      // The data exercises suppression: the threshold alone would give hidden rows away.
      assert.ok(totals.suppressed > 500, `${totals.suppressed} rows suppressed`)
      assert.ok(
        totals.leaksWithoutSuppression > 500,
        `${totals.leaksWithoutSuppression} hidden rows would follow from the threshold alone`,
      )
    }
  })
}

test("a createdBy filter gives that app's rows of the unfiltered answer, with the same statistics", async ({
  server,
  token,
  measures,
}) => {
  const range = RANGES[0]
  const app2 = measures.filter((measure) => measure.createdBy === 'app2')
  for (const { name, threshold, registered } of DEFINITIONS) {
    for (const period of PERIODS) {
      const ask = async (createdBy?: string) =>
        (
          (await (
            await server.post(
              '/aggregate',
              { measureName: name, ...range, period, createdBy, wildcard: 'group1' },
              token,
            )
          ).json()) as Row[]
        ).map((row): Row => ({ ...row, measureName: NAME }))
      const filtered = await ask('app2')
      const about = `${name} period ${period}`
      assert.equal(
        filtered,
        (await ask()).filter((row) => row.createdBy === 'app2'),
        about,
      )
      const rollups = rollupsOf(['group1'], registered)
      check(filtered, bucketsOf(app2, period, rollups), rollups, threshold, about)
    }
  }
})

test.run()
