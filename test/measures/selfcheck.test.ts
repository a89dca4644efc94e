import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { openClickHouse } from '../../src/clickhouse/client.ts'
import { loadConfig } from '../../src/config.ts'
import { preparedDataDir, queryStopped, serveProcess } from '../helpers/server.ts'

// What exactly-once rests on is checked at start on the engine itself: a server whose engine would
// store a replayed load twice, or skip the aggregates, refuses to start, in one line.
const test = suite('the engine self-check at start')

/** A data directory whose schema was applied by a first start, then changed by `statements`. */
async function broken(...statements: string[]): Promise<string> {
  const { dataDir } = await preparedDataDir([{ name: 'm', aggregationThreshold: 1, accessApp: true }])
  const first = serveProcess(dataDir)
  await first.url
  first.child.kill('SIGTERM')
  assert.is(await first.exited, 0)
  const clickhouse = await openClickHouse(loadConfig({ env: {}, overrides: { dataDir } }))
  try {
    for (const query of statements) await clickhouse.client.command({ query })
  } finally {
    await clickhouse.close()
  }
  return dataDir
}

const lastLine = (output: string) => output.trimEnd().split('\n').at(-1)

test('deduplication turned off: the server refuses to start, saying why', async () => {
  const dataDir = await broken('ALTER TABLE raw_measures MODIFY SETTING non_replicated_deduplication_window = 0')
  const server = serveProcess(dataDir)
  assert.is(await server.exited, 1)
  assert.is(
    lastLine(server.output()),
    'Error: ClickHouse self-check failed: raw_measures keeps a deduplication window of 0 blocks (non_replicated_deduplication_window; at least 100000 needed)',
  )
})

test('the aggregate view detached: the server refuses to start, saying why', async () => {
  const dataDir = await broken('DETACH TABLE aggregates_mv PERMANENTLY')
  const server = serveProcess(dataDir)
  assert.is(await server.exited, 1)
  assert.is(
    lastLine(server.output()),
    'Error: ClickHouse self-check failed: the materialized view aggregates_mv is missing or detached (ATTACH TABLE aggregates_mv)',
  )
})

test('a sound engine starts, and leaves no scratch table behind', async () => {
  const dataDir = await broken()
  const server = serveProcess(dataDir)
  await server.url
  server.child.kill('SIGTERM')
  assert.is(await server.exited, 0)
  assert.equal(
    await queryStopped(
      dataDir,
      "SELECT name FROM system.tables WHERE database = currentDatabase() AND name LIKE 'dacc_selfcheck%'",
    ),
    [],
  )
})

test.run()
