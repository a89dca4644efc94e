import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { postStatus, preparedDataDir, queryStopped, serveProcess } from '../helpers/server.ts'

// A segment in doubt at start (its raw rows in ClickHouse, its aggregates maybe not: the last run
// was killed between the two) that cannot be replayed within the start's 5 s, because ClickHouse
// refuses writes for now (its raw table's directory read-only): the server answers anyway, leaves
// the segment out of answers (its aggregates may be in already), says so in /status, and counts it
// exactly once as soon as it loads.
const test = suite('a segment in doubt at start that cannot load yet')

const root = process.getuid?.() === 0
function readOnly(dir: string, on: boolean): void {
  if (root) execFileSync('chattr', [on ? '+i' : '-i', dir])
  else fs.chmodSync(dir, on ? 0o555 : 0o700)
}

test('answers without it, /status says so, then it counts once', async () => {
  const { dataDir, token } = await preparedDataDir([{ name: 'm', aggregationThreshold: 1, accessApp: true }])
  const batch = Array.from({ length: 50 }, () => ({ measureName: 'm', value: 1, startDate: '2022-01-01' }))
  const crashing = serveProcess(dataDir, { DACC_TEST_CRASH_AT: 'between-raw-and-aggregates' })
  assert.is(await postStatus(`${await crashing.url}/measures`, token, batch, 'the-batch'), 201)
  assert.is(await crashing.exited, null, 'killed between the raw part and the aggregates')
  const [{ table }] = await queryStopped<{ table: string }>(
    dataDir,
    "SELECT data_paths[1] AS table FROM system.tables WHERE name = 'raw_measures' AND database = currentDatabase()",
  )
  const tableDir = path.resolve(dataDir, 'clickhouse', table)

  readOnly(tableDir, true)
  const server = serveProcess(dataDir)
  try {
    const url = await server.url
    const status = async () =>
      (await (await fetch(`${url}/status`)).json()) as { writes: { status: string; error?: string } }
    const count = async () => {
      const response = await fetch(`${url}/aggregate?measureName=m&startDate=2022-01-01&endDate=2022-01-02`, {
        headers: { Authorization: `Bearer ${token}` },
      })
      return ((await response.json()) as { count: number }[])[0]?.count ?? 0
    }
    const { writes } = await status()
    assert.is(writes.status, 'degraded')
    assert.match(
      writes.error ?? '',
      /1 segment\(s\) in doubt since the start, 50 measures: counted in answers once loaded/,
    )
    readOnly(tableDir, false)
    for (const deadline = Date.now() + 20_000; (await status()).writes.status !== 'ok'; ) {
      if (Date.now() > deadline) throw new Error('the segment never loaded')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    assert.is(await count(), 50, 'counted once loaded')
    assert.is(await postStatus(`${url}/measures`, token, batch, 'the-batch'), 201, 'its retry')
    assert.is(await count(), 50, 'and its retry recognised')
  } finally {
    readOnly(tableDir, false)
    server.child.kill('SIGTERM')
    await server.exited
  }
  assert.equal(
    await queryStopped(
      dataDir,
      'SELECT (SELECT count() FROM raw_measures) AS raw, (SELECT sum(count) FROM aggregates) AS aggregated',
    ),
    [{ raw: 50, aggregated: 50 }],
  )
})

test.run()
