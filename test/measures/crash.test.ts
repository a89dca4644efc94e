import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { CRASH_POINTS } from '../../src/measures/faults.ts'
import { postStatus, preparedDataDir, serveProcess, startTestServer } from '../helpers/server.ts'

// SIGKILL at each chosen point of the write path (src/measures/faults.ts), a restart, the keyed
// request retried: its measures must be counted exactly once in raw_measures and in aggregates,
// and so must the unkeyed ones that were acknowledged before the crash.
const test = suite('the write path, killed at each point')

const NAME = 'crashed'
const KEYED = 10_000
const UNKEYED = 300

const measures = (count: number, value: number) =>
  Array.from({ length: count }, (_, i) => ({
    measureName: NAME,
    value,
    startDate: `2022-01-0${1 + (i % 9)}`,
    group1: { device: `d${i % 7}` },
  }))

for (const point of CRASH_POINTS) {
  test(`killed ${point}: the keyed retry and the acknowledged measures count once`, async () => {
    const { dataDir, token } = await preparedDataDir([
      { name: NAME, group1Key: 'device', aggregationThreshold: 1, accessApp: true, withQuartiles: true },
    ])
    const post = (url: string, body: unknown, key?: string) => postStatus(`${url}/measures`, token, body, key)

    // Both requests gather in one segment (the loader waits 2 s), then the crash comes.
    const crashing = serveProcess(dataDir, { DACC_TEST_CRASH_AT: point, DACC_INGEST_MAX_BATCH_DELAY_MS: '2000' })
    const url = await crashing.url
    const unkeyed = point === 'after-append' ? undefined : await post(url, measures(UNKEYED, 1))
    const first = await post(url, measures(KEYED, 2), 'the-key')
    assert.is(await crashing.exited, null, 'killed by its signal')
    assert.is(first, point === 'after-append' ? 0 : 201)
    if (unkeyed !== undefined) assert.is(unkeyed, 201)

    const recovered = serveProcess(dataDir)
    assert.is(await post(await recovered.url, measures(KEYED, 2), 'the-key'), 201, 'the retry is acknowledged')
    recovered.child.kill('SIGTERM')
    assert.is(await recovered.exited, 0)

    const server = await startTestServer({ dataDir })
    try {
      const expected = [
        { value: 1, n: unkeyed === undefined ? 0 : UNKEYED },
        { value: 2, n: KEYED },
      ].filter((row) => row.n > 0)
      assert.equal(
        await server.query(`SELECT value, count() AS n FROM raw_measures GROUP BY value ORDER BY value`),
        expected,
        'raw_measures',
      )
      const [aggregated] = await server.query<{ n: number; s: number }>(
        'SELECT sum(count) AS n, sum(sum) AS s FROM aggregates',
      )
      const n = expected.reduce((total, row) => total + row.n, 0)
      assert.equal(aggregated, { n, s: expected.reduce((total, row) => total + row.value * row.n, 0) }, 'aggregates')
      const answer = await server.post(
        '/aggregate',
        { measureName: NAME, startDate: '2022-01-01', endDate: '2022-02-01', period: 'month', wildcard: 'group1' },
        token,
      )
      const rows = (await answer.json()) as { count: number; group1: { device: string } }[]
      assert.is(rows.find((row) => row.group1.device === '*')?.count, n, '/aggregate')
    } finally {
      await server.close()
    }
  })
}

test.run()
