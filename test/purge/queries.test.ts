import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { insertMeasures } from '../../src/measures/queries.ts'
import type { MeasureRow } from '../../src/measures/schema.ts'
import { purgeRawMeasures, rawCounts } from '../../src/purge/queries.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

type Context = { server: TestServer }
const test = suite<Context>('purgeRawMeasures', {} as Context)
const DAY = 86_400_000

test.before(async (context) => {
  context.server = await startTestServer()
})
test.after(async ({ server }) => server.close())

const row = (name: string, value: number, day: number): MeasureRow => [name, `2022-01-0${1 + (day % 5)} 00:00:00`, 'app', `g${value % 3}`, '', '', value, true]

/** Every aggregate, merged and finalized: what any /aggregate answer is computed from. */
const snapshot = (server: TestServer) =>
  server.query(`SELECT measure_name, start_date, created_by, group1, sum(count) AS n, sum(count_not_zero) AS nz, sum(sum) AS s, min(min) AS lo, max(max) AS hi,
      varSampStableMerge(var_state) AS v, quantilesExactInclusiveIfMerge(0.25, 0.5, 0.75)(quartiles_state) AS q
    FROM aggregates GROUP BY ALL ORDER BY ALL`)

test('removes raw rows older than the cutoff, per measure, and never changes the aggregates', async ({ server }) => {
  const { client } = server.deps.clickhouse
  const now = Date.now()
  // Old rows in partitions of their own, old rows sharing a week with a kept measure, and recent rows.
  const batch = (rows: MeasureRow[]) => [{ rows, idempotencyKey: '' }]
  await insertMeasures(client, batch(Array.from({ length: 40 }, (_, i) => row('a', i, i))), new Date(now - 200 * DAY))
  await insertMeasures(client, batch(Array.from({ length: 30 }, (_, i) => row(i % 2 ? 'a' : 'b', i, i))), new Date(now - 120 * DAY))
  await insertMeasures(client, batch(Array.from({ length: 20 }, (_, i) => row('a', i, i))), new Date(now - DAY))
  const before = await snapshot(server)

  const result = await purgeRawMeasures(client, ['a'], new Date(now - 90 * DAY))
  assert.equal(result, [{ measureName: 'a', removed: 55 }])
  assert.equal(Object.fromEntries(await rawCounts(client)), { a: 20, b: 15 })
  assert.equal(await snapshot(server), before)

  const all = await purgeRawMeasures(client, ['a', 'b', 'c'], new Date(now))
  assert.equal(all, [{ measureName: 'a', removed: 20 }, { measureName: 'b', removed: 15 }, { measureName: 'c', removed: 0 }])
  assert.equal(Object.fromEntries(await rawCounts(client)), {})
  assert.equal(await snapshot(server), before)
})

test.run()
