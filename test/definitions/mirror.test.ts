import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mirrorDefinitions, mirrorSource } from '../../src/definitions/mirror.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

type Context = { server: TestServer; token: string }
const test = suite<Context>('aggregates_public', {} as Context)

const DEFINITIONS = [
  {
    name: 'three-groups',
    group1Key: 'slug',
    group2Key: 'event',
    group3Key: 'status',
    aggregationThreshold: 3,
    accessApp: true,
    withQuartiles: true,
  },
  { name: 'no-groups', aggregationThreshold: 2, accessPublic: true },
  { name: 'extremes-hidden', group1Key: 'device', aggregationThreshold: 2, accessApp: true, hideExtremes: true },
  {
    name: 'by-contributors',
    group1Key: 'device',
    aggregationThreshold: 3,
    accessApp: true,
    thresholdOn: 'contributors' as const,
  },
  { name: 'private', aggregationThreshold: 1 },
  { name: 'noisy', aggregationThreshold: 1, accessApp: true, noise: { epsilon: 1, valueMin: 0, valueMax: 100 } },
]

const mirror = (server: TestServer) => mirrorDefinitions(server.deps.clickhouse.client, mirrorSource(server.deps.store))

test.before(async (context) => {
  context.server = await startTestServer()
  context.server.define(...DEFINITIONS)
  context.token = await context.server.token()
  const measures: Record<string, unknown>[] = []
  for (let i = 0; i < 400; i++) {
    const startDate = `2022-01-${String(1 + (i % 6)).padStart(2, '0')}${i % 5 === 0 ? 'T10:30:00' : ''}`
    const createdBy = i % 4 === 0 ? undefined : i % 4 === 1 ? 'app-a' : 'app-b'
    const value = ((i * 7919) % 1000) / 7
    measures.push({
      measureName: 'three-groups',
      value,
      startDate,
      createdBy,
      group1: { slug: `s${i % 3}` },
      group2: { event: i % 2 ? 'x' : '' },
      group3: { status: 'ok' },
    })
    measures.push({ measureName: 'no-groups', value: i % 5, startDate, createdBy })
    measures.push({ measureName: 'extremes-hidden', value: -value, startDate, group1: { device: `d${i % 4}` } })
    measures.push({
      measureName: 'by-contributors',
      value,
      startDate,
      group1: { device: `d${i % 2}` },
      contributor: `c${i % 9}`,
    })
    measures.push({ measureName: 'private', value, startDate })
    measures.push({ measureName: 'noisy', value: 5, startDate })
  }
  const response = await context.server.post('/measures', measures, context.token)
  assert.is(response.status, 201, await response.text())
  assert.equal(await mirror(context.server), { mirrored: DEFINITIONS.length, removed: 0 })
})
test.after(async ({ server }) => server.close())

/** A view row in the API's shape: camelCase, groups as {key: value}, nulls left out, keys sorted. */
function asApiRow(row: Record<string, unknown>): Record<string, unknown> {
  const fields: Record<string, unknown> = {
    measureName: row.measure_name,
    startDate: String(row.start_date).replace(' ', 'T'),
    createdBy: row.created_by,
    count: row.count,
    countNotZero: row.count_not_zero,
    sum: row.sum,
    min: row.min,
    max: row.max,
    avg: row.avg,
    std: row.std,
    firstQuartile: row.first_quartile,
    median: row.median,
    thirdQuartile: row.third_quartile,
    contributors: row.contributors,
  }
  for (const n of [1, 2, 3])
    if (row[`group${n}_key`] != null) fields[`group${n}`] = { [row[`group${n}_key`] as string]: row[`group${n}`] }
  return Object.fromEntries(
    Object.entries(fields)
      .filter(([, value]) => value != null)
      .sort(([a], [b]) => (a < b ? -1 : 1)),
  )
}

const fromView = async (server: TestServer, name: string) =>
  (
    await server.query(
      `SELECT * FROM aggregates_public WHERE measure_name = {name:String}
       ORDER BY start_date, ifNull(created_by, ''), group1, group2, group3`,
      { name },
    )
  ).map(asApiRow)

const fromApi = async ({ server, token }: Context, name: string) =>
  (await server.post('/aggregate', { measureName: name, startDate: '2022-01-01', endDate: '2022-02-01' }, token)).json()

test('the view gives exactly the rows and values of /aggregate', async (context) => {
  for (const { name } of DEFINITIONS.slice(0, 4)) {
    const api = (await fromApi(context, name)) as unknown[]
    assert.ok(api.length > 3, `${name} has rows`)
    assert.equal(await fromView(context.server, name), api, name)
  }
})

test('buckets imported from the original are in the view as /aggregate answers them: as stored, merged, duplicates apart', async (context) => {
  const { server, token } = context
  const name = 'imported-buckets'
  server.define({ name, group1Key: 'device', aggregationThreshold: 2, accessApp: true, withQuartiles: true })
  await mirror(server)
  // Final statistics of {1, 2, 3, 10}, a second row of that key (the original's defect), one under the threshold, {1, 2, 3}.
  await server.deps.clickhouse.client.command({
    query: `INSERT INTO imported_aggregates (measure_name, start_date, created_by, group1, group2, group3, duplicate, count, count_not_zero, sum, min, max, avg, std, first_quartile, median, third_quartile, imported_at)
            VALUES ('${name}', '2022-01-01 00:00:00', 'app', 'phone', '', '', 0, 4, 4, 16, 1, 10, 4, 4.08, 1.75, 2.5, 4.75, now64(3)),
                   ('${name}', '2022-01-01 00:00:00', 'app', 'phone', '', '', 1, 2, 2, 10, 4, 6, 5, 1.41, 4.5, 5, 5.5, now64(3)),
                   ('${name}', '2022-01-01 00:00:00', 'app', 'tablet', '', '', 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, now64(3)),
                   ('${name}', '2022-01-02 00:00:00', 'app', 'phone', '', '', 0, 3, 3, 6, 1, 3, 2, 1, 1.5, 2, 2.5, now64(3))`,
  })
  // {1, 2, 3} again, its values kept by the import (clickhouse/0015): merged, it keeps quartiles.
  await server.deps.clickhouse.client.command({
    query: `INSERT INTO imported_aggregates (measure_name, start_date, created_by, group1, group2, group3, duplicate, count, count_not_zero, sum, min, max, avg, std, first_quartile, median, third_quartile, quartiles_state, imported_at)
            SELECT '${name}', '2022-01-04 00:00:00', 'app', 'phone', '', '', 0, 3, 3, 6, 1, 3, 2, 1, 1.5, 2, 2.5,
                   quantilesExactInclusiveStateIf(0.25, 0.5, 0.75)(toFloat64(arrayJoin([1, 2, 3])), true), now64(3)`,
  })
  // New measures: into imported buckets (merged), and into a bucket of their own (states alone).
  const measures = [5, 7, 0].flatMap((value) =>
    ['2022-01-02', '2022-01-03', '2022-01-04'].map((startDate) => ({
      measureName: name,
      value,
      startDate,
      createdBy: 'app',
      group1: { device: 'phone' },
    })),
  )
  assert.is((await server.post('/measures', measures, token)).status, 201)
  const sorted = (rows: unknown[]) => rows.map((row) => JSON.stringify(row)).sort()
  const api = (await fromApi(context, name)) as Record<string, unknown>[]
  assert.is(api.length, 5)
  assert.equal(
    api.map((row) => row.median),
    [2.5, 5, undefined, 5, 2.5],
    'quartiles of a merged bucket only where its values were kept',
  )
  assert.equal(sorted(await fromView(server, name)), sorted(api))
  server.deps.definitions.delete(name)
  await mirror(server)
})

test('definitions not readable through the API, or whose answers the view cannot reproduce, are absent', async ({
  server,
}) => {
  assert.equal(await fromView(server, 'private'), [])
  assert.equal(await fromView(server, 'noisy'), [])
})

test('a measure with wildcard sets leaves the view: its answers may hide detail rows the view would show', async ({
  server,
}) => {
  assert.ok((await fromView(server, 'extremes-hidden')).length > 0)
  server.deps.wildcards.register('extremes-hidden', ['group1'], {})
  await mirror(server)
  assert.equal(await fromView(server, 'extremes-hidden'), [])
  server.deps.wildcards.remove('extremes-hidden', ['group1'])
  await mirror(server)
  assert.ok((await fromView(server, 'extremes-hidden')).length > 0)
})

test('a threshold change and a removed definition reach the view with the next mirror', async (context) => {
  const { server } = context
  const before = (await fromView(server, 'no-groups')).length
  server.define({ ...DEFINITIONS[1], aggregationThreshold: 30 })
  await mirror(server)
  const after = await fromView(server, 'no-groups')
  assert.ok(after.length < before)
  assert.equal(after, await fromApi(context, 'no-groups'))
  server.deps.definitions.delete('no-groups')
  assert.equal(await mirror(server), { mirrored: DEFINITIONS.length - 1, removed: 1 })
  assert.equal(await fromView(server, 'no-groups'), [])
})

test.run()
