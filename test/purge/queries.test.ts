import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { insertRaw, measureOf } from '../helpers/answers.ts'
import { deleteMeasureData, purgeRawMeasures, rawCounts, type Queries } from '../../src/purge/queries.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

type Context = { server: TestServer }
const test = suite<Context>('purgeRawMeasures', {} as Context)
const DAY = 86_400_000

test.before(async (context) => {
  context.server = await startTestServer()
})
test.after(async ({ server }) => server.close())

const row = (name: string, value: number, day: number) =>
  measureOf({
    measureName: name,
    startDate: `2022-01-0${1 + (day % 5)} 00:00:00`,
    createdBy: 'app',
    group1: `g${value % 3}`,
    value,
    withQuartiles: true,
  })

/** Every aggregate, merged and finalized: what any /aggregate answer is computed from. */
const snapshot = (server: TestServer) =>
  server.query(`SELECT measure_name, start_date, created_by, group1, sum(count) AS n, sum(count_not_zero) AS nz, sum(sum) AS s, min(min) AS lo, max(max) AS hi,
      varSampStableMerge(var_state) AS v, quantilesExactInclusiveIfMerge(0.25, 0.5, 0.75)(quartiles_state) AS q
    FROM aggregates GROUP BY ALL ORDER BY ALL`)

test('removes raw rows older than the cutoff, per measure, and never changes the aggregates', async ({ server }) => {
  const { client } = server.deps.clickhouse
  const now = Date.now()
  // Old rows in partitions of their own, old rows sharing a week with a kept measure, and recent rows.
  await insertRaw(
    client,
    Array.from({ length: 40 }, (_, i) => row('a', i, i)),
    new Date(now - 200 * DAY),
  )
  await insertRaw(
    client,
    Array.from({ length: 30 }, (_, i) => row(i % 2 ? 'a' : 'b', i, i)),
    new Date(now - 120 * DAY),
  )
  await insertRaw(
    client,
    Array.from({ length: 20 }, (_, i) => row('a', i, i)),
    new Date(now - DAY),
  )
  const before = await snapshot(server)

  const result = await purgeRawMeasures(client, ['a'], new Date(now - 90 * DAY))
  assert.equal(result, [{ measureName: 'a', removed: 55 }])
  assert.equal(Object.fromEntries(await rawCounts(client)), { a: 20, b: 15 })
  assert.equal(await snapshot(server), before)

  const all = await purgeRawMeasures(client, ['a', 'b', 'c'], new Date(now))
  assert.equal(all, [
    { measureName: 'a', removed: 20 },
    { measureName: 'b', removed: 15 },
    { measureName: 'c', removed: 0 },
  ])
  assert.equal(Object.fromEntries(await rawCounts(client)), {})
  assert.equal(await snapshot(server), before)
})

test('deleteMeasureData removes the raw measures and aggregate states of one measure, and only those', async ({
  server,
}) => {
  const { client } = server.deps.clickhouse
  await insertRaw(
    client,
    [
      ...Array.from({ length: 10 }, (_, i) => row('gone', i, i)),
      ...Array.from({ length: 5 }, (_, i) => row('kept', i, i)),
    ],
    new Date(Date.now() - 200 * DAY),
  )
  await insertRaw(
    client,
    Array.from({ length: 3 }, (_, i) => row('gone', i, i)),
  )
  const others = async () => (await snapshot(server)).filter((aggregate) => aggregate.measure_name !== 'gone')
  const before = await others()

  assert.equal(await deleteMeasureData(client, 'gone'), { rawMeasures: 13, aggregatedMeasures: 13 })
  assert.equal(Object.fromEntries(await rawCounts(client)), { kept: 5 })
  assert.equal(await server.query("SELECT count() AS n FROM aggregates WHERE measure_name = 'gone'"), [{ n: 0 }])
  assert.equal(await others(), before)
})

/** A client that records every statement and answers the queries with `answers`, in order. */
function recorder(answers: Record<string, unknown>[][]) {
  const statements: string[] = []
  const record = async ({ query }: { query: string }) => {
    statements.push(query.replace(/\s+/g, ' '))
    return { json: async () => answers.shift() ?? [] }
  }
  return { client: { query: record, command: record } as unknown as Queries, statements }
}

test('on a cluster, partitions are read over every shard and changed on the shard-local tables, ON CLUSTER', async ({
  server,
}) => {
  const purge = recorder([[{ measure_name: 'a', n: 3 }], [{ partition: '20220103' }]])
  await purgeRawMeasures(purge.client, ['a'], new Date(0), 'c1')
  const cutoff = "toDateTime64({cutoff:Float64}, 3, 'UTC')"
  assert.equal(purge.statements, [
    `SELECT measure_name, count() AS n FROM raw_measures WHERE measure_name IN {names:Array(String)} AND received_at < ${cutoff} GROUP BY measure_name`,
    "SELECT _partition_id AS partition FROM cluster('c1', currentDatabase(), raw_measures_local) GROUP BY partition " +
      `HAVING max(received_at) < ${cutoff} AND hasAll({names:Array(String)}, groupUniqArray(measure_name))`,
    "ALTER TABLE raw_measures_local ON CLUSTER c1 DROP PARTITION ID '20220103'",
    `DELETE FROM raw_measures_local ON CLUSTER c1 WHERE measure_name IN {names:Array(String)} AND received_at < ${cutoff}`,
  ])
  const remove = recorder([[{ n: 3 }], [{ measure_name: 'a', n: 3 }], []])
  await deleteMeasureData(remove.client, 'a', 'c1')
  assert.equal(
    remove.statements.slice(-2),
    ['aggregates', 'imported_aggregates'].map(
      (table) =>
        `ALTER TABLE ${table}_local ON CLUSTER c1 DELETE WHERE measure_name = {name:String} SETTINGS mutations_sync = 2`,
    ),
  )
  // The embedded engine cannot run them, but its parser checks every one.
  for (const statement of [...purge.statements, ...remove.statements]) {
    await server.query('SELECT formatQuery({statement:String})', { statement })
  }
})

test.run()
