import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { postStatus, preparedDataDir, queryStopped, serveProcess, startTestServer } from '../helpers/server.ts'

// Whatever POST /measures accepts loads: one request whose dates fall in 102 years (aggregates are
// partitioned by year; ClickHouse refuses over 100 partitions in one insert block by default),
// mixed with other producers' ordinary traffic. Every acknowledged measure is loaded and counted,
// a server killed with that request in its journal restarts in seconds, nothing is set aside.
const test = suite('dates of every year in one request')

const YEARS = 'years'
const OTHER = 'other'
const definitions = [
  { name: YEARS, aggregationThreshold: 1, accessApp: true, withQuartiles: true },
  { name: OTHER, group1Key: 'device', aggregationThreshold: 1, accessApp: true },
]
const yearly = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({ measureName: YEARS, value: i, startDate: `${from + i}-06-01` }))
const ordinary = (count: number) =>
  Array.from({ length: count }, (_, i) => ({
    measureName: OTHER,
    value: 1,
    startDate: '2022-01-01',
    group1: { device: `d${i % 3}` },
  }))
const total = async (url: string, token: string, measureName: string) => {
  const response = await fetch(
    `${url}/aggregate?measureName=${measureName}&startDate=1970-01-01&endDate=2106-01-01&period=year`,
    { headers: { Authorization: `Bearer ${token}` } },
  )
  const rows = (await response.json()) as { count: number }[]
  return { rows: rows.length, count: rows.reduce((sum, row) => sum + row.count, 0) }
}

test('loaded while others write: every measure in raw_measures, aggregates and answers', async () => {
  const server = await startTestServer()
  try {
    server.define(...definitions)
    const [writer, other] = [await server.token(), await server.token()]
    const sent = await Promise.all([
      server.post('/measures', yearly(1971, 102), writer),
      server.post('/measures', yearly(1970, 136), writer),
      ...Array.from({ length: 5 }, () => server.post('/measures', ordinary(30), other)),
    ])
    assert.equal(
      sent.map((response) => response.status),
      Array(7).fill(201),
    )
    await server.settled()
    const [row] = await server.query<{ raw: number; aggregated: number; years: number }>(
      `SELECT count() AS raw, (SELECT sum(count) FROM aggregates WHERE measure_name = '${YEARS}') AS aggregated,
              uniqExact(toYear(start_date)) AS years
       FROM raw_measures WHERE measure_name = '${YEARS}'`,
    )
    assert.equal(row, { raw: 238, aggregated: 238, years: 136 })
    assert.equal(await total(server.url, writer, YEARS), { rows: 136, count: 238 })
    assert.equal(await total(server.url, other, OTHER), { rows: 3, count: 150 })
    const status = (await (await fetch(`${server.url}/status`)).json()) as { writes: { status: string } }
    assert.is(status.writes.status, 'ok', 'nothing set aside')
  } finally {
    await server.close()
  }
})

test('killed with such a request in its journal: restarts in seconds, loads it, sets nothing aside', async () => {
  const { dataDir, token } = await preparedDataDir(definitions)
  // The journal is not loaded before the kill (the loader waits a minute).
  const first = serveProcess(dataDir, { DACC_INGEST_MAX_BATCH_DELAY_MS: '60000' })
  const url = await first.url
  const posts = await Promise.all([
    postStatus(`${url}/measures`, token, yearly(1971, 102), 'the-years'),
    postStatus(`${url}/measures`, token, ordinary(40)),
  ])
  assert.equal(posts, [201, 201])
  first.child.kill('SIGKILL')
  await first.exited

  const started = Date.now()
  const second = serveProcess(dataDir)
  try {
    const again = await second.url
    const seconds = (Date.now() - started) / 1000
    assert.ok(seconds < 20, `answering after ${seconds} s`)
    assert.equal(await total(again, token, YEARS), { rows: 102, count: 102 }, 'counted from its 201 on')
    assert.is(await postStatus(`${again}/measures`, token, yearly(1971, 102), 'the-years'), 201, 'its retry')
    // The segments it found count in its backlog until loaded, then leave it: back to 0, never below.
    const writes = async () =>
      ((await (await fetch(`${again}/status`)).json()) as { writes: { status: string; backlog: number } }).writes
    for (const deadline = Date.now() + 10_000; (await writes()).backlog !== 0; ) {
      assert.ok(Date.now() < deadline, `backlog ${(await writes()).backlog}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    assert.equal(await writes(), { status: 'ok', backlog: 0 })
  } finally {
    second.child.kill('SIGTERM')
  }
  assert.is(await second.exited, 0)

  assert.equal(
    await queryStopped(
      dataDir,
      "SELECT measure_name AS name, count() AS raw, min(load_token LIKE 'dacc-journal-%') AS tokened FROM raw_measures GROUP BY name ORDER BY name",
    ),
    [
      { name: OTHER, raw: 40, tokened: 1 },
      { name: YEARS, raw: 102, tokened: 1 },
    ],
  )
  assert.equal(
    await queryStopped(
      dataDir,
      'SELECT measure_name AS name, sum(count) AS aggregated FROM aggregates GROUP BY name ORDER BY name',
    ),
    [
      { name: OTHER, aggregated: 40 },
      { name: YEARS, aggregated: 102 },
    ],
  )
})

test.run()
