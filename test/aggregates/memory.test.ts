import v8 from 'node:v8'
import vm from 'node:vm'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { scrape } from '../helpers/metrics.ts'
import { freePort } from '../helpers/ports.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

// aggregate.cacheMb bounds what the read cache holds (src/aggregates/cache.ts): a quartile measure
// of 36 months holding ten times the bound in values, read month after month in a loop, must be
// answered exactly while the cache evicts, its accounted memory under the bound after every
// answer, and the process's memory (V8 heap and array buffers, after a full GC) within the bound
// plus a stated margin — with and without measures being loaded into those months meanwhile.
type Context = { server: TestServer; token: string }
const test = suite<Context>('/aggregate: the cache stays within aggregate.cacheMb', {} as Context)

const NAME = 'many-values'
const MONTHS = 36
/** Quartile values a month, in one bucket (its 1st): 0 to 39,999; 36 × 320 kB = 11.5 MB of values. */
const PER_MONTH = 40_000
const CACHE_MB = 1
const BOUND = CACHE_MB * 2 ** 20
/**
 * What the process may hold beyond the bound: what the loop itself grows (V8's code and type
 * feedback, the metrics' series, the engine client's buffers), measured at ≈ 1.2 MB here. The
 * values alone are 11 times the bound: a cache that kept them would be 10 MB over.
 */
const MARGIN = 3 * 2 ** 20

const monthOf = (index: number) => `${2020 + Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, '0')}`
const nextMonthOf = (index: number) => monthOf(index + 1)

// A full GC on demand (node --expose-gc, set at run time).
v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc') as () => void
async function memory(): Promise<number> {
  gc()
  // Array buffers are freed by a sweeper after the GC: wait for it, then collect again.
  await new Promise((resolve) => setTimeout(resolve, 20))
  gc()
  const { heapUsed, arrayBuffers } = process.memoryUsage()
  return heapUsed + arrayBuffers
}

test.before(async (context) => {
  context.server = await startTestServer({
    aggregate: { cacheMb: CACHE_MB, maxStalenessMs: 60_000 },
    metrics: { port: await freePort() },
  })
  context.server.define({
    name: NAME,
    group1Key: 'device',
    aggregationThreshold: 1,
    accessApp: true,
    withQuartiles: true,
  })
  context.token = await context.server.token()
  // Generated inside the engine: 1.44 M raw measures in one INSERT.
  await context.server.deps.clickhouse.client.command({
    query: `INSERT INTO raw_measures (measure_name, start_date, created_by, group1, group2, group3, value, with_quartiles, received_at)
      SELECT {name:String}, toDateTime('2020-01-01 00:00:00', 'UTC') + toIntervalMonth(intDiv(number, {perMonth:UInt32})),
             '', 'phone', '', '', toFloat64(number % {perMonth:UInt32}), true, now64(3)
      FROM numbers({rows:UInt64})`,
    query_params: { name: NAME, perMonth: PER_MONTH, rows: MONTHS * PER_MONTH },
  })
  // A first answer compiles and caches what every later one uses (routes, schemas, code): made on
  // another measure, before the process's memory is measured.
  const warm = { measureName: 'warm-up', startDate: '2020-01-01', endDate: '2023-01-01' }
  context.server.define({ name: warm.measureName, aggregationThreshold: 1, accessApp: true, withQuartiles: true })
  for (const value of [1, 2, 3]) await context.server.post('/measure', { ...warm, value }, context.token)
  for (const period of [undefined, 'month', undefined])
    await context.server.post('/aggregate', { ...warm, period }, context.token)
  await context.server.settled()
  context.server.deps.cache.forget()
})
test.after(async ({ server }) => server.close())

const ask = async ({ server, token }: Context, from: string, to: string) => {
  const response = await server.post('/aggregate', { measureName: NAME, startDate: from, endDate: to }, token)
  assert.is(response.status, 200)
  return (await response.json()) as Record<string, number>[]
}
const engineAnswers = async ({ server }: Context) =>
  (await server.deps.metrics.reads.answers.get()).values.find((value) => value.labels.source === 'engine')?.value ?? 0

/**
 * Reads every month `rounds` times, checking each answer with the checker `checker` gives before
 * its request, the accounted memory after each, and the process's memory every few answers;
 * returns the most the process held over `baseline`.
 */
async function readAll(
  context: Context,
  rounds: number,
  baseline: number,
  checker: (index: number) => (row: Record<string, number>) => void,
): Promise<number> {
  let most = 0
  for (let round = 0; round < rounds; round++) {
    for (let index = 0; index < MONTHS; index++) {
      const check = checker(index)
      const rows = await ask(context, `${monthOf(index)}-01`, `${nextMonthOf(index)}-01`)
      assert.is(rows.length, 1, monthOf(index))
      check(rows[0])
      const bytes = context.server.deps.cache.bytes
      assert.ok(bytes <= BOUND, `${bytes} bytes accounted after ${monthOf(index)}, over ${BOUND}`)
      if (index % 6 === 5) most = Math.max(most, (await memory()) - baseline)
    }
  }
  return most
}

test('read month after month, the cache evicts and holds less than its bound; the process too, within the margin', async (context) => {
  const baseline = await memory()
  const queried = await engineAnswers(context)
  const most = await readAll(context, 3, baseline, () => (row) => {
    assert.equal(
      [row.count, row.min, row.max, row.firstQuartile, row.median, row.thirdQuartile],
      [PER_MONTH, 0, PER_MONTH - 1, 9999.75, 19999.5, 29999.25],
    )
  })
  // Months do not all fit: each is evicted before it is read again, so every answer queried the engine.
  assert.is((await engineAnswers(context)) - queried, 3 * MONTHS, 'every month read again from ClickHouse')
  assert.ok(most <= BOUND + MARGIN, `the process held ${(most / 2 ** 20).toFixed(1)} MB more than before reading`)
  console.log(`memory over the start while reading: at most ${(most / 2 ** 20).toFixed(2)} MB (bound 1 MB)`)
  const metrics = await scrape(`${context.server.metricsUrl}`)
  assert.is(metrics.value('dacc_aggregate_cache_bytes'), context.server.deps.cache.bytes, 'the gauge reports it')
  assert.ok(metrics.value('dacc_aggregate_cache_bytes') > BOUND / 2, 'it counts the values: a month is 320 kB')
})

test('an answer needing more than the bound is answered whole, its cells then dropped', async (context) => {
  const rows = await ask(context, `${monthOf(0)}-01`, `${monthOf(MONTHS)}-01`)
  assert.is(rows.length, MONTHS)
  assert.ok(rows.every((row) => row.count === PER_MONTH && row.median === 19999.5))
  assert.ok(context.server.deps.cache.bytes <= BOUND, String(context.server.deps.cache.bytes))
})

test('with measures loaded into the months being read: every answer exact, the bound kept', async (context) => {
  const { server, token } = context
  const acknowledged = Array.from({ length: MONTHS }, () => 0)
  const sent = Array.from({ length: MONTHS }, () => 0)
  let writing = true
  const writer = async () => {
    for (let i = 0; writing; i++) {
      const index = (i * 7) % MONTHS
      sent[index]++
      const body = { measureName: NAME, value: i % 100, startDate: `${monthOf(index)}-01`, group1: { device: 'phone' } }
      if ((await server.post('/measure', body, token)).status === 201) acknowledged[index]++
    }
  }
  const writing1 = writer()
  const baseline = await memory()
  const most = await readAll(context, 2, baseline, (index) => {
    const before = acknowledged[index]
    return (row) => {
      const added = row.count - PER_MONTH
      assert.ok(
        added >= before && added <= sent[index],
        `${monthOf(index)}: ${before} acknowledged <= ${added} counted <= ${sent[index]} sent`,
      )
    }
  }).finally(() => (writing = false))
  await writing1
  assert.ok(acknowledged.reduce((total, n) => total + n, 0) > 50, 'measures were written meanwhile')
  assert.ok(most <= BOUND + MARGIN, `the process held ${(most / 2 ** 20).toFixed(1)} MB more than before reading`)
  await server.settled()
  assert.is(server.deps.cache.pending.bytes, 0, 'nothing pending once loaded: rows and versions gone')
  const rows = await ask(context, `${monthOf(0)}-01`, `${monthOf(MONTHS)}-01`)
  assert.equal(
    rows.map((row) => row.count - PER_MONTH),
    acknowledged,
  )
})

test.run()
