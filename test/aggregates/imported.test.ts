import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startTestServer, type TestServer } from '../helpers/server.ts'

// Buckets known only by the original service's final statistics (clickhouse/0007): answered as
// stored, merged exactly with what comes later, duplicate rows answered as the original did.
type Context = { server: TestServer; token: string }
const test = suite<Context>('/aggregate over imported buckets', {} as Context)
const NAME = 'imported'

test.before(async (context) => {
  context.server = await startTestServer()
  context.server.define({
    name: NAME,
    group1Key: 'device',
    aggregationThreshold: 2,
    accessApp: true,
    withQuartiles: true,
  })
  context.token = await context.server.token()
  // Two buckets of January 1st, one of them kept twice by the original (its known defect), and a
  // bucket of January 2nd: final statistics of values {1, 2, 3, 10} and {4, 6}.
  const rows = [
    ['phone', 0, 4, 4, 16, 1, 10, 4, 4.08, 1.75, 2.5, 4.75],
    ['phone', 1, 2, 2, 10, 4, 6, 5, 1.41, 4.5, 5, 5.5],
    ['tablet', 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  ]
  await context.server.deps.clickhouse.client.command({
    query: `INSERT INTO imported_aggregates (measure_name, start_date, created_by, group1, group2, group3, duplicate, count, count_not_zero, sum, min, max, avg, std, first_quartile, median, third_quartile, imported_at)
     VALUES ${rows.map(([device, duplicate, ...stats]) => `('${NAME}', '2022-01-01 00:00:00', 'app', '${device}', '', '', ${duplicate}, ${stats.join(', ')}, now64(3))`).join(', ')},
            ('${NAME}', '2022-01-02 00:00:00', 'app', 'phone', '', '', 0, 3, 3, 6, 1, 3, 2, 1, 1.5, 2, 2.5, now64(3))`,
  })
})
test.after(async ({ server }) => server.close())

const ask = ({ server, token }: Context, params: Record<string, unknown> = {}) =>
  server
    .post('/aggregate', { measureName: NAME, startDate: '2022-01-01', endDate: '2022-02-01', ...params }, token)
    .then((response) => response.json()) as Promise<Record<string, unknown>[]>

test('stored buckets are answered as stored, a duplicate row as a row of its own, under the threshold left out', async (context) => {
  const base = { measureName: NAME, createdBy: 'app', group1: { device: 'phone' } }
  assert.equal(await ask(context), [
    {
      ...base,
      avg: 4,
      count: 4,
      countNotZero: 4,
      firstQuartile: 1.75,
      max: 10,
      median: 2.5,
      min: 1,
      startDate: '2022-01-01T00:00:00',
      std: 4.08,
      sum: 16,
      thirdQuartile: 4.75,
    },
    {
      ...base,
      avg: 5,
      count: 2,
      countNotZero: 2,
      firstQuartile: 4.5,
      max: 6,
      median: 5,
      min: 4,
      startDate: '2022-01-01T00:00:00',
      std: 1.41,
      sum: 10,
      thirdQuartile: 5.5,
    },
    {
      ...base,
      avg: 2,
      count: 3,
      countNotZero: 3,
      firstQuartile: 1.5,
      max: 3,
      median: 2,
      min: 1,
      startDate: '2022-01-02T00:00:00',
      std: 1,
      sum: 6,
      thirdQuartile: 2.5,
    },
  ])
})

test('periods merge them exactly, std by the parallel formula; quartiles absent', async (context) => {
  const [month] = await ask(context, { period: 'month' })
  // {1, 2, 3, 10, 4, 6, 1, 2, 3}: n 9, sum 32; the stds were stored rounded, so the merged std is
  // that of the stored variances: close to 2.87, the std of the values themselves.
  assert.equal([month.count, month.sum, month.min, month.max, month.avg], [9, 32, 1, 10, 3.56])
  assert.ok(Math.abs((month.std as number) - 2.87) <= 0.01, String(month.std))
  assert.equal([month.median, month.firstQuartile, month.thirdQuartile], [undefined, undefined, undefined])
})

test('new measures add to an imported bucket', async (context) => {
  const { server, token } = context
  for (const value of [5, 7]) {
    assert.is(
      (
        await server.post(
          '/measure',
          { measureName: NAME, value, startDate: '2022-01-02', createdBy: 'app', group1: { device: 'phone' } },
          token,
        )
      ).status,
      201,
    )
  }
  const rows = await ask(context)
  const second = rows.find((row) => row.startDate === '2022-01-02T00:00:00')!
  // {1, 2, 3} then 5 and 7: n 5, sum 18, mean 3.6, sample std 2.41.
  assert.equal(
    [second.count, second.sum, second.min, second.max, second.avg, second.std, second.median],
    [5, 18, 1, 7, 3.6, 2.41, undefined],
  )
})

test.run()
