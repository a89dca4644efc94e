import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { openClickHouse } from '../../src/clickhouse/client.ts'
import { quartiles } from '../../src/aggregates/stats.ts'
import { roundQuartile } from '../../src/aggregates/format.ts'
import { preparedDataDir, serveProcess, testConfig } from '../helpers/server.ts'

// A load whose INSERT committed but whose client saw a failure (a timeout after the commit on a
// server, some shards in on a cluster): the segment is in ClickHouse and still pending here until
// its retry succeeds. Readers hammering its months meanwhile, through a cache miss or the freshness
// check (maxStalenessMs 0: every answer reads ClickHouse; 50: the background check), must count
// each of its measures once: never twice (ClickHouse's rows and the pending ones), never missed.
// The fault is test-only: DACC_TEST_LOAD_FAULT=lost-answer:N makes the first N load attempts
// throw right after their INSERT succeeded, as a lost answer would (src/measures/faults.ts).
const test = suite('/aggregate while an insert of unknown outcome is retried')

const NAME = 'in-doubt'
const FAILED_ATTEMPTS = 3
const definition = { name: NAME, group1Key: 'device', aggregationThreshold: 1, accessApp: true, withQuartiles: true }
// One segment: a batch over two months, values whose quartiles change with any double count.
const measures = Array.from({ length: 120 }, (_, i) => ({
  measureName: NAME,
  value: (i * 37) % 101,
  startDate: `2022-0${1 + (i % 2)}-${String(1 + (i % 5)).padStart(2, '0')}`,
  group1: { device: `d${i % 3}` },
}))
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The answer over both months by month: per month and device, count, sum and quartiles as the API rounds them. */
function expected(): string[] {
  const groups = new Map<string, number[]>()
  for (const measure of measures) {
    const key = `${measure.startDate.slice(0, 7)} ${measure.group1.device}`
    groups.set(key, [...(groups.get(key) ?? []), measure.value])
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, values]) => {
      const [q1, median, q3] = quartiles([Float64Array.from(values).sort()])!.map(roundQuartile)
      return `${key} ${values.length} ${values.reduce((sum, value) => sum + value, 0)} ${q1} ${median} ${q3}`
    })
}

for (const maxStalenessMs of [0, 50]) {
  test(`maxStalenessMs ${maxStalenessMs}: every answer during the retries counts the segment once`, async () => {
    const { dataDir, token } = await preparedDataDir([definition])
    const server = serveProcess(dataDir, {
      DACC_TEST_LOAD_FAULT: `lost-answer:${FAILED_ATTEMPTS}`,
      DACC_AGGREGATE_MAX_STALENESS_MS: String(maxStalenessMs),
      DACC_INGEST_MAX_BATCH_DELAY_MS: '5',
    })
    try {
      const url = await server.url
      const post = (route: string, body: unknown) =>
        fetch(url + route, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify(body),
        })
      const ask = async () => {
        const response = await post('/aggregate', {
          measureName: NAME,
          startDate: '2022-01-01',
          endDate: '2022-03-01',
          period: 'month',
        })
        const rows = (await response.json()) as Record<string, number & { device: string }>[]
        return rows.map(
          (row) =>
            `${String(row.startDate).slice(0, 7)} ${row.group1.device} ${row.count} ${row.sum} ${row.firstQuartile} ${row.median} ${row.thirdQuartile}`,
        )
      }
      assert.equal(await ask(), [], 'nothing yet: the months are cached empty')
      assert.is((await post('/measures', measures)).status, 201)
      const wanted = expected()
      let loaded = false
      let failed = false
      let answers = 0
      const reader = async () => {
        while (!loaded) {
          assert.equal(await ask(), wanted, `answer ${answers}`)
          answers++
        }
      }
      // The first wrong answer stops the readers and the wait, and fails the test.
      const readers = Promise.all([reader(), reader(), reader()]).then(
        () => undefined,
        (err) => {
          failed = true
          return err
        },
      )
      for (const deadline = Date.now() + 20_000; !loaded && !failed; await sleep(20)) {
        const status = (await (await fetch(`${url}/status`)).json()) as { writes: { backlog: number } }
        loaded = status.writes.backlog === 0
        if (Date.now() > deadline) throw new Error('the segment was never loaded')
      }
      loaded = true
      const wrong = await readers
      if (wrong) throw wrong
      assert.equal(await ask(), wanted, 'once loaded')
      const failures = server.output().match(/loading a journal segment into ClickHouse failed/g) ?? []
      assert.is(failures.length, FAILED_ATTEMPTS, 'the fault fired (DACC_TEST_LOAD_FAULT=lost-answer:N)')
      // Each reader asked right after the 201, while the first attempts failed: its answer waited, or was right.
      assert.ok(answers >= 3, `${answers} answers while the load was retried`)
    } finally {
      server.child.kill('SIGTERM')
      await server.exited
    }
    // The retries completed the segment, never doubled it: ClickHouse holds each measure once.
    const clickhouse = await openClickHouse(testConfig({ dataDir }))
    try {
      const result = await clickhouse.client.query({
        query: `SELECT (SELECT count() FROM raw_measures WHERE measure_name = '${NAME}') AS raw, (SELECT sum(count) FROM aggregates WHERE measure_name = '${NAME}') AS aggregated`,
        format: 'JSONEachRow',
      })
      assert.equal(await result.json(), [{ raw: measures.length, aggregated: measures.length }])
    } finally {
      await clickhouse.close()
    }
  })
}

test.run()
