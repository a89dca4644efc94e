import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { exportData, importData } from '../../src/transfer/transfer.ts'
import { startTestServer, tempDir, type TestServer } from '../helpers/server.ts'

const test = suite('export / import')

const definitions = [{ name: 'moved', group1Key: 'g', aggregationThreshold: 2, accessApp: true, withQuartiles: true }]

async function answers(server: TestServer, token: string) {
  const bodies: string[] = []
  for (const period of [undefined, 'week', 'month']) {
    const response = await server.post(
      '/aggregate',
      { measureName: 'moved', startDate: '2022-01-01', endDate: '2022-03-01', period, wildcard: 'group1' },
      token,
    )
    bodies.push(await response.text())
  }
  return bodies
}

test('an export loaded into another embedded store answers the same, raw rows included, nothing counted twice', async () => {
  const source = await startTestServer()
  const dir = tempDir()
  let expected: string[]
  let token: string
  try {
    source.define(...definitions)
    token = await source.token()
    const measures = Array.from({ length: 300 }, (_, i) => ({
      measureName: 'moved',
      value: (i * 37) % 101,
      startDate: `2022-0${1 + (i % 2)}-${String(1 + (i % 28)).padStart(2, '0')}`,
      group1: { g: `v${i % 4}` },
    }))
    assert.is((await source.post('/measures', measures, token)).status, 201)
    expected = await answers(source, token)
    assert.ok(expected.every((body) => JSON.parse(body).length > 0))
    assert.equal(await exportData(source.deps.clickhouse.client, dir), {
      aggregates: await count(source, 'aggregates'),
      raw_measures: 300,
    })
  } finally {
    await source.close()
  }

  // The SQLite file (definitions, tokens) moves as a file; here the target gets the same ones.
  const target = await startTestServer({ auth: { signingKey: 'k'.repeat(32) } })
  try {
    target.define(...definitions)
    const targetToken = await target.token()
    await importData(target.deps.clickhouse, dir)
    assert.equal(await answers(target, targetToken), expected)
    assert.is(await count(target, 'raw_measures'), 300)
    // The view is attached again: new measures are aggregated as before.
    assert.is(
      (
        await target.post(
          '/measure',
          { measureName: 'moved', value: 1, startDate: '2022-01-01', group1: { g: 'v0' } },
          targetToken,
        )
      ).status,
      201,
    )
    const [{ n }] = await target.query<{ n: number }>(
      "SELECT sum(count) AS n FROM aggregates WHERE measure_name = 'moved'",
    )
    assert.is(n, 301)
  } finally {
    await target.close()
  }
})

test('importing from a directory that is not an export says so', async () => {
  const server = await startTestServer()
  try {
    await importData(server.deps.clickhouse, tempDir()).then(
      () => assert.unreachable(),
      (err: Error) => assert.match(err.message, /not an export directory/),
    )
  } finally {
    await server.close()
  }
})

async function count(server: TestServer, table: string): Promise<number> {
  const [{ n }] = await server.query<{ n: number }>(`SELECT count() AS n FROM ${table}`)
  return n
}

test.run()
