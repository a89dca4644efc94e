import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startTestServer } from '../helpers/server.ts'

// When a journal segment goes to ClickHouse (src/measures/loader.ts): the end of a burst at once,
// a trickle once its delay is over. The delay here is a minute, longer than the test.
const test = suite('loading the journal')

test('a segment of 1,000 rows or more is loaded once writes pause; a smaller one waits for its delay', async () => {
  const server = await startTestServer({ ingest: { maxBatchDelayMs: 60_000 } })
  try {
    server.define({ name: 'burst', aggregationThreshold: 1 })
    const token = await server.token()
    const measures = Array.from({ length: 1_000 }, (_, i) => ({
      measureName: 'burst',
      value: i,
      startDate: '2022-01-01',
    }))
    // Straight from ClickHouse: server.query would wait for the journal to be loaded.
    const raw = async () => {
      const result = await server.deps.clickhouse.client.query({
        query: "SELECT count() AS n FROM raw_measures WHERE measure_name = 'burst'",
        format: 'JSONEachRow',
      })
      return Number(((await result.json()) as { n: number }[])[0]!.n)
    }

    assert.is((await server.post('/measures', measures, token)).status, 201)
    const deadline = Date.now() + 10_000
    while ((await raw()) < 1_000 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    assert.is(await raw(), 1_000, 'loaded within seconds, not after a minute')

    assert.is((await server.post('/measures', measures.slice(0, 10), token)).status, 201)
    await new Promise((resolve) => setTimeout(resolve, 300)) // six times the pause
    assert.is(await raw(), 1_000, 'ten rows wait for the delay')
  } finally {
    await server.close()
  }
})

test.run()
