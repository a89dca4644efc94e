import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { postStatus, preparedDataDir, queryStopped, runCli, serveProcess } from '../helpers/server.ts'

// Retiring an instance without losing its journal: `dacc drain` while producers write. Every
// measure acknowledged is in ClickHouse once the server has stopped by itself, the journal is
// empty, and the writes refused meanwhile (503) stored nothing.
const test = suite('dacc drain')

const NAME = 'drained'

test('drained while producers write: nothing acknowledged is lost, the journal is left empty', async () => {
  const { dataDir, token } = await preparedDataDir([{ name: NAME, aggregationThreshold: 1, accessApp: true }])
  // Loads wait (10 s) so that the drain has a journal to load.
  const server = serveProcess(dataDir, { DACC_INGEST_MAX_BATCH_DELAY_MS: '10000' })
  const url = await server.url
  let acknowledged = 0
  let refused = 0
  let writing = true
  const producer = async () => {
    while (writing) {
      const batch = Array.from({ length: 20 }, () => ({ measureName: NAME, value: 1, startDate: '2022-01-01' }))
      const status = await postStatus(`${url}/measures`, token, batch, undefined, 5000)
      if (status === 201) acknowledged += 20
      else if (status === 503) refused += 20
      else break // the server has stopped
    }
  }
  const producers = Array.from({ length: 4 }, producer)
  while (acknowledged < 2000) await new Promise((resolve) => setTimeout(resolve, 20))

  const drained = await runCli(['drain'], { DACC_DATA_DIR: dataDir })
  assert.is(drained.code, 0, drained.stderr)
  assert.match(drained.stdout, /^Drained: \d+ measures loaded, the journal is empty; the server stops\n$/)
  assert.is(await server.exited, 0, 'the server stopped by itself')
  writing = false
  await Promise.all(producers)
  assert.ok(refused > 0 || acknowledged > 0)
  assert.match(server.output(), /"msg":"stopped"/)

  const journal = path.join(dataDir, 'journal')
  assert.equal(
    fs.readdirSync(journal).filter((file) => file.endsWith('.tsv')),
    [],
    'the journal is empty',
  )
  assert.equal(
    await queryStopped(
      dataDir,
      'SELECT (SELECT count() FROM raw_measures) AS raw, (SELECT sum(count) FROM aggregates) AS aggregated',
    ),
    [{ raw: acknowledged, aggregated: acknowledged }],
    'every 201, once',
  )
})

test('without a running server, dacc drain says so in one line', async () => {
  const { dataDir } = await preparedDataDir([])
  const drained = await runCli(['drain'], { DACC_DATA_DIR: dataDir })
  assert.is(drained.code, 1)
  assert.match(drained.stderr, /^Error: no dacc serve runs on \S+: start it, drain runs in it\n$/)
})

test.run()
