import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { chaosDefinitions, runChaos } from '../chaos.ts'
import { lazyFsAvailable, onLazyFs, type LazyFs } from '../helpers/lazyfs.ts'
import { postStatus, preparedDataDir, queryStopped, serveProcess } from '../helpers/server.ts'

// Power cuts, with the whole data directory (journal, idempotency index, embedded ClickHouse,
// SQLite store) on LazyFS, which loses every write not fsynced when told to. Under concurrent keyed
// batches and unkeyed measures: SIGKILL, power cut, restart, retries, round after round — every
// acknowledged measure counted, every key exactly once. And the power cut at the one instant a
// replay depends on ClickHouse's own record of a load: after its INSERT, before its segment left
// the journal (ClickHouse writes that record without fsync; the loader flushes it).
const test = suite('power cuts (LazyFS)')

const { sources, why } = lazyFsAvailable()
if (!sources && process.env.CI) throw new Error(`the power-cut suite cannot run: ${why}`)

const dataDirOn = (lazyfs: LazyFs, name: string) => {
  const dir = path.join(lazyfs.mount, name)
  fs.mkdirSync(dir, { recursive: true })
  return dir
}

test('SIGKILL and a power cut at random instants under load, round after round: nothing acknowledged lost, every key once', async () => {
  if (!sources) return console.log(`  (skipped: ${why})`)
  await onLazyFs(sources, async (lazyfs) => {
    const prepared = await preparedDataDir(chaosDefinitions, dataDirOn(lazyfs, 'chaos'))
    const result = await runChaos({
      rounds: 4,
      seconds: 2,
      producers: 6,
      seed: 20261207,
      prepared,
      afterKill: () => lazyfs.powerCut(),
    })
    assert.equal(result.failures, [])
    assert.is(result.kills, 4)
    assert.ok(result.keyedMeasures > result.keys, 'keyed batches among the keys')
  })
})

test('a power cut after a load, before its segment left the journal: the replay counts it once', async () => {
  if (!sources) return console.log(`  (skipped: ${why})`)
  await onLazyFs(sources, async (lazyfs) => {
    const { dataDir, token } = await preparedDataDir(
      [{ name: 'cut', aggregationThreshold: 1, accessApp: true, withQuartiles: true }],
      dataDirOn(lazyfs, 'after-load'),
    )
    const batch = Array.from({ length: 500 }, (_, i) => ({ measureName: 'cut', value: i, startDate: '2022-01-01' }))
    const crashing = serveProcess(dataDir, { DACC_TEST_CRASH_AT: 'after-load' })
    const url = await crashing.url
    assert.is(await postStatus(`${url}/measures`, token, batch, 'the-batch'), 201)
    assert.is(await crashing.exited, null, 'killed after the load')
    await lazyfs.powerCut()

    const server = serveProcess(dataDir)
    const again = await server.url
    assert.is(await postStatus(`${again}/measures`, token, batch, 'the-batch'), 201, 'the retry')
    server.child.kill('SIGTERM')
    assert.is(await server.exited, 0)
    assert.equal(
      await queryStopped(
        dataDir,
        'SELECT (SELECT count() FROM raw_measures) AS raw, (SELECT sum(count) FROM aggregates) AS aggregated',
      ),
      [{ raw: 500, aggregated: 500 }],
    )
  })
})

test.run()
