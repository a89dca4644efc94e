import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { insertRaw, measureOf } from '../helpers/answers.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

// The read side answers from cached bucket statistics plus the measures acknowledged but not yet
// loaded (src/aggregates/cache.ts): these tests check that an answer holds every acknowledged
// measure exactly once, whatever the loader is doing, and that writes by others show in time.
const test = suite('/aggregate: current answers from the cache')

const NAME = 'current'
const definition = { name: NAME, group1Key: 'device', aggregationThreshold: 1, accessApp: true, withQuartiles: true }
const measure = (value: number, day = 1, device = 'phone') => ({
  measureName: NAME,
  value,
  startDate: `2022-01-0${day}`,
  group1: { device },
})
const ask = (server: TestServer, token: string, params: Record<string, unknown> = {}) =>
  server
    .post('/aggregate', { measureName: NAME, startDate: '2022-01-01', endDate: '2022-02-01', ...params }, token)
    .then((response) => response.json()) as Promise<Record<string, number>[]>
const total = (rows: Record<string, number>[]) => rows.reduce((sum, row) => sum + row.count, 0)
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

test('an answer read right after a 201 holds the measure, before it is in ClickHouse: stored buckets, periods, wildcards', async () => {
  // The loader waits a minute before loading: the measures stay in the journal for the whole test.
  const server = await startTestServer({ ingest: { maxBatchDelayMs: 60_000 }, aggregate: { maxStalenessMs: 1000 } })
  try {
    server.define(definition)
    const token = await server.token()
    assert.equal(await ask(server, token), [], 'warms the cache: an empty month')
    for (const [value, day] of [
      [1, 1],
      [3, 1],
      [10, 2],
    ])
      assert.is((await server.post('/measure', measure(value, day), token)).status, 201)
    const raw = await server.deps.clickhouse.client.query({
      query: `SELECT count() AS n FROM raw_measures WHERE measure_name = '${NAME}'`,
      format: 'JSONEachRow',
    })
    assert.equal(await raw.json(), [{ n: 0 }], 'nothing loaded yet')

    assert.equal(await ask(server, token), [
      {
        avg: 2,
        count: 2,
        countNotZero: 2,
        firstQuartile: 1.5,
        group1: { device: 'phone' },
        max: 3,
        measureName: NAME,
        median: 2,
        min: 1,
        startDate: '2022-01-01T00:00:00',
        std: 1.41,
        sum: 4,
        thirdQuartile: 2.5,
      },
      {
        avg: 10,
        count: 1,
        countNotZero: 1,
        firstQuartile: 10,
        group1: { device: 'phone' },
        max: 10,
        measureName: NAME,
        median: 10,
        min: 10,
        startDate: '2022-01-02T00:00:00',
        std: 0,
        sum: 10,
        thirdQuartile: 10,
      },
    ])
    const [month] = await ask(server, token, { period: 'month', wildcard: 'group1' })
    assert.equal([month.count, month.sum, month.median], [3, 14, 3])
    assert.is(
      (await ask(server, token, { period: 'month', wildcard: 'group1' })).length,
      2,
      'the month per device and for every device',
    )
  } finally {
    await server.close()
  }
})

test('answers count each measure once while it moves from the journal into ClickHouse, under concurrent writes', async () => {
  const server = await startTestServer({ ingest: { maxBatchDelayMs: 1 }, aggregate: { maxStalenessMs: 1000 } })
  const { dataDir } = server.config
  let restarted: TestServer | undefined
  try {
    server.define(definition)
    const token = await server.token()
    let acknowledged = 0
    let sent = 0
    let writing = true
    const writer = async (index: number) => {
      for (let i = 0; writing; i++) {
        sent++
        const response = await server.post(
          '/measure',
          measure((i * 7 + index) % 50, 1 + (i % 5), `d${index % 3}`),
          token,
        )
        if (response.status === 201) acknowledged++
      }
    }
    const reader = async () => {
      while (writing) {
        const before = acknowledged
        const counted = total(await ask(server, token))
        assert.ok(counted >= before && counted <= sent, `${before} acknowledged <= ${counted} counted <= ${sent} sent`)
      }
    }
    const writers = [0, 1, 2, 3].map(writer)
    const readers = [reader(), reader()]
    await sleep(1500)
    writing = false
    await Promise.all([...writers, ...readers])
    await server.settled()
    const questions = [{}, { period: 'week' }, { period: 'month', wildcard: 'group1' }, { createdBy: '' }]
    const warm = await Promise.all(questions.map((params) => ask(server, token, params)))
    assert.is(total(warm[0]), acknowledged)
    await server.close()
    // A fresh start reads everything from ClickHouse: the same answers.
    restarted = await startTestServer({ dataDir })
    const cold = await Promise.all(questions.map((params) => ask(restarted!, token, params)))
    assert.equal(cold, warm)
  } finally {
    await server.close()
    await restarted?.close()
  }
})

test('measures written to ClickHouse by others show within maxStalenessMs; definition and wildcard changes at once', async () => {
  const STALENESS_MS = 200
  const server = await startTestServer({ aggregate: { maxStalenessMs: STALENESS_MS } })
  try {
    server.define(definition)
    const token = await server.token()
    await server.post('/measure', measure(5), token)
    assert.is(total(await ask(server, token)), 1)
    // Another writer: an INSERT straight into ClickHouse, which this server's cache does not see.
    await insertRaw(server.deps.clickhouse.client, [
      measureOf({
        measureName: NAME,
        startDate: '2022-01-01 00:00:00',
        group1: 'phone',
        value: 7,
        withQuartiles: true,
      }),
    ])
    await sleep(STALENESS_MS + 50)
    assert.is(total(await ask(server, token)), 2, 'seen once maxStalenessMs has passed')

    server.define({ ...definition, aggregationThreshold: 3 })
    assert.equal(await ask(server, token), [], 'a new threshold applies at once')
    server.define({ ...definition, aggregationThreshold: 1 })
    server.deps.wildcards.register(NAME, ['group1'])
    assert.equal(
      (await ask(server, token)).map((row) => (row.group1 as unknown as { device: string }).device),
      ['phone', '*'],
      'a registered wildcard set at once',
    )
  } finally {
    await server.close()
  }
})

test('an imported bucket written again with the same count (a re-import seen from another instance) shows within maxStalenessMs', async () => {
  const STALENESS_MS = 200
  const server = await startTestServer({ aggregate: { maxStalenessMs: STALENESS_MS } })
  try {
    server.define(definition)
    const token = await server.token()
    // As dacc import-original writes a bucket: a later imported_at replaces the row (clickhouse/0007).
    const importBucket = (sum: number, median: number) =>
      server.deps.clickhouse.client.command({
        query: `INSERT INTO imported_aggregates (measure_name, start_date, created_by, group1, group2, group3, duplicate, count, count_not_zero, sum, min, max, avg, std, first_quartile, median, third_quartile, imported_at)
          VALUES ('${NAME}', '2022-01-01 00:00:00', '', 'phone', '', '', 0, 4, 4, ${sum}, 1, 10, ${sum / 4}, 1, 1, ${median}, 10, now64(3))`,
      })
    await importBucket(16, 2.5)
    const first = await ask(server, token)
    assert.equal([first[0].count, first[0].sum, first[0].median], [4, 16, 2.5])
    await sleep(5) // a later imported_at
    await importBucket(20, 4)
    await sleep(STALENESS_MS + 50)
    const second = await ask(server, token)
    assert.equal(
      [second[0].count, second[0].sum, second[0].median],
      [4, 20, 4],
      'the count is the same, the rows are not',
    )
  } finally {
    await server.close()
  }
})

test.run()
