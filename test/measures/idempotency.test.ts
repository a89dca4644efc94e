import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startTestServer, type TestServer } from '../helpers/server.ts'

const test = suite('Idempotency-Key')

const measure = (value: number) => ({ measureName: 'm', value, startDate: '2022-01-01' })

async function counts(server: TestServer) {
  const [raw] = await server.query<{ n: number; s: number }>(
    "SELECT count() AS n, sum(value) AS s FROM raw_measures WHERE measure_name = 'm'",
  )
  const [aggregated] = await server.query<{ n: number; s: number }>(
    "SELECT sum(count) AS n, sum(sum) AS s FROM aggregates WHERE measure_name = 'm'",
  )
  assert.equal(aggregated, raw, 'the aggregates count what the raw table holds')
  return raw
}

test('retries count once, also concurrent ones, also after a restart; other keys and other tokens are other measures', async () => {
  let server = await startTestServer()
  const { dataDir } = server.config
  try {
    server.define({ name: 'm', aggregationThreshold: 1 })
    const token = await server.token()
    const other = await server.token()
    const post = (body: unknown, key: string, as = token, route = '/measure') =>
      server.post(route, body, as, { 'Idempotency-Key': key })

    assert.is((await post(measure(1), 'k1')).status, 201)
    assert.is((await post(measure(1), 'k1')).status, 201)
    assert.equal(await counts(server), { n: 1, s: 1 })

    const concurrent = await Promise.all(Array.from({ length: 20 }, () => post(measure(10), 'k2')))
    assert.ok(concurrent.every((response) => response.status === 201))
    assert.equal(await counts(server), { n: 2, s: 11 })

    assert.is((await post(measure(100), 'k3')).status, 201)
    assert.is((await post(measure(100), 'k4')).status, 201)
    assert.is((await server.post('/measure', measure(100), token)).status, 201)
    assert.is((await server.post('/measure', measure(100), token)).status, 201)
    assert.is((await post(measure(1000), 'k1', other)).status, 201, 'the same key from another token')
    assert.equal(await counts(server), { n: 7, s: 1411 })

    const batch = [measure(5), measure(5)]
    const first = await post(batch, 'b1', token, '/measures')
    assert.equal(await first.json(), { ok: true, count: 2 })
    assert.equal(await (await post(batch, 'b1', token, '/measures')).json(), { ok: true, count: 2 })
    assert.equal(await counts(server), { n: 9, s: 1421 })

    await server.close()
    server = await startTestServer({ dataDir })
    assert.is((await server.post('/measure', measure(1), token, { 'Idempotency-Key': 'k1' })).status, 201)
    assert.is((await server.post('/measures', batch, token, { 'Idempotency-Key': 'b1' })).status, 201)
    assert.equal(await counts(server), { n: 9, s: 1421 }, 'retries after a restart are recognised')
  } finally {
    await server.close()
  }
})

test('a malformed key is a 400 and stores nothing', async () => {
  const server = await startTestServer()
  try {
    server.define({ name: 'm', aggregationThreshold: 1 })
    const response = await server.post('/measure', measure(1), await server.token(), {
      'Idempotency-Key': 'x'.repeat(256),
    })
    assert.is(response.status, 400)
    assert.equal(await response.json(), { error: 'Idempotency-Key must be 1 to 255 visible ASCII characters' })
    assert.equal(await counts(server), { n: 0, s: 0 })
  } finally {
    await server.close()
  }
})

test.run()
