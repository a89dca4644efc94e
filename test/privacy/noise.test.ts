import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { round2 } from '../../src/aggregates/format.ts'
import { askAll, cellsOf, cellsOfMeasures, everyRequest, postMeasures, type Measure, type Row } from './attack.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

// The attacker knows every measure but the victim's (it sent them: an n−1 attack, which no
// threshold stops) and subtracts them from every row holding the victim.
type Context = { server: TestServer; token: string }
const test = suite<Context>('noise, attacked', {} as Context)
const base = { group1Key: 'slug', group2Key: 'status', aggregationThreshold: 2, accessApp: true }
const NOISE = { epsilon: 0.1, valueMin: 0, valueMax: 100 }
const VICTIM: Measure = { day: '2022-01-05', createdBy: 'app1', slug: 'x', status: 'ok', value: 42 }
const KNOWN: Measure[] = ['2022-01-04', '2022-01-05', '2022-01-06'].flatMap((day) =>
  ['app1', 'app2'].flatMap((createdBy) =>
    ['x', 'y'].flatMap((slug) => [10, 20, 30].map((value) => ({ day, createdBy, slug, status: 'ok', value }))),
  ),
)
const CELLS = cellsOfMeasures([VICTIM, ...KNOWN])
const VICTIM_CELL = CELLS.findIndex(
  (cell) => cell.day === VICTIM.day && cell.createdBy === VICTIM.createdBy && cell.slug === VICTIM.slug,
)

test.before(async (context) => {
  const server = (context.server = await startTestServer({ privacy: { secret: 'n'.repeat(32) } }))
  context.token = await server.token()
  server.define({ name: 'noisy', ...base, noise: NOISE }, { name: 'exact', ...base })
  for (const name of ['noisy', 'exact']) await postMeasures(server, context.token, name, [VICTIM, ...KNOWN])
})
test.after(async ({ server }) => server.close())

/** Per distinct cell of the answers (granularity, bucket, createdBy, groups) that holds the victim: its sum minus the known measures. */
async function estimates({ server, token }: Context, measureName: string): Promise<Map<string, number>> {
  const found = new Map<string, number>()
  for (const { request, status, body } of await askAll(server, token, everyRequest(measureName))) {
    assert.is(status, 200)
    for (const row of body as Row[]) {
      const cells = cellsOf(row, request, request.period ?? null, measureName === 'noisy', CELLS)
      if (!cells.includes(VICTIM_CELL)) continue
      const known = cells.reduce((total, cell) => total + CELLS[cell].sum, 0) - VICTIM.value
      const key = JSON.stringify([request.period, row.startDate, row.createdBy, row.group1, row.group2])
      const estimate = Math.round((row.sum - known) * 100) / 100
      assert.is(found.get(key) ?? estimate, estimate, `${key}: a cell reads the same in every answer`)
      found.set(key, estimate)
    }
  }
  return found
}

test('without noise, every row holding the victim gives its value away', async (context) => {
  const found = await estimates(context, 'exact')
  assert.ok(found.size > 10)
  assert.equal(new Set(found.values()), new Set([VICTIM.value]))
})

test('with noise, a cell keeps its noise across requests, and the best estimate stays off', async (context) => {
  const found = await estimates(context, 'noisy')
  // Every period × rollup holding the victim, whatever the ranges and createdBy filters asked: 5 × 4.
  assert.is(found.size, 20)
  const mean = [...found.values()].reduce((a, b) => a + b, 0) / found.size
  assert.ok(Math.abs(mean - VICTIM.value) > 1, `estimate ${mean}`)
  const ask = () =>
    context.server.post(
      '/aggregate',
      { measureName: 'noisy', startDate: '2022-01-01', endDate: '2022-02-01', wildcard: 'group1' },
      context.token,
    )
  const first = await (await ask()).text()
  assert.is(await (await ask()).text(), first, 'asking again gives the same answer')
  for (const row of JSON.parse(first) as Row[]) {
    assert.ok(Number.isInteger(row.count) && row.count >= 0 && row.countNotZero <= row.count, JSON.stringify(row))
    if (row.count > 0) assert.is(row.avg, round2(row.sum / row.count))
  }
})

test('values are clamped to [valueMin, valueMax] at ingest, where noise is on', async ({ server, token }) => {
  for (const measureName of ['noisy', 'exact']) {
    for (const value of [1000, -5]) {
      const response = await server.post(
        '/measure',
        { measureName, value, startDate: '2023-01-01', group1: { slug: 'z' }, group2: { status: 'ok' } },
        token,
      )
      assert.is(response.status, 201)
    }
  }
  const rows = await server.query<{ measure_name: string; value: number }>(
    "SELECT measure_name, value FROM raw_measures WHERE start_date = '2023-01-01 00:00:00' ORDER BY measure_name, value",
  )
  assert.equal(rows, [
    { measure_name: 'exact', value: -5 },
    { measure_name: 'exact', value: 1000 },
    { measure_name: 'noisy', value: 0 },
    { measure_name: 'noisy', value: 100 },
  ])
})

test.run()
