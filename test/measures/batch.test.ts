import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startTestServer, type TestServer } from '../helpers/server.ts'

type Context = { server: TestServer; token: string }
const test = suite<Context>('POST /measures', {} as Context)

test.before(async (context) => {
  context.server = await startTestServer({
    ingest: { maxMeasuresPerRequest: 100, batchBodyLimit: '20kb', maxQueuedRows: 150 },
  })
  context.server.define(
    { name: 'batch', group1Key: 'device', aggregationThreshold: 1 },
    { name: 'other', aggregationThreshold: 1 },
  )
  context.token = await context.server.token()
})
test.after(async ({ server }) => server.close())

const measure = (value: number, name = 'batch') =>
  name === 'batch'
    ? { measureName: name, value, startDate: '2022-01-01', group1: { device: 'desktop' } }
    : { measureName: name, value, startDate: '2022-01-01' }
const countOf = async (server: TestServer, name: string) =>
  (
    await server.query<{ n: number }>('SELECT count() AS n FROM raw_measures WHERE measure_name = {name:String}', {
      name,
    })
  )[0].n

test('a JSON array is stored whole: 201 with the count', async ({ server, token }) => {
  const response = await server.post(
    '/measures',
    Array.from({ length: 50 }, (_, i) => measure(i)),
    token,
  )
  assert.is(response.status, 201)
  assert.equal(await response.json(), { ok: true, count: 50 })
  assert.is(await countOf(server, 'batch'), 50)
})

test('all or nothing: one invalid item stores nothing and names its index', async ({ server, token }) => {
  const items: unknown[] = Array.from({ length: 30 }, (_, i) => measure(i, 'other'))
  items[17] = { measureName: 'other', value: 'abc', startDate: '2022-01-01' }
  const response = await server.post('/measures', items, token)
  assert.is(response.status, 400)
  assert.equal(await response.json(), { error: 'value type is incorrect, it must be a number', index: 17 })
  assert.is(await countOf(server, 'other'), 0)
})

test('NDJSON bodies, blank lines ignored; a malformed line is named', async ({ server, token }) => {
  const ndjson = `${[measure(1, 'other'), measure(2, 'other')].map((item) => JSON.stringify(item)).join('\n')}\n\n`
  const response = await server.post('/measures', ndjson, token, { 'Content-Type': 'application/x-ndjson' })
  assert.is(response.status, 201)
  assert.equal(await response.json(), { ok: true, count: 2 })
  const bad = await server.post('/measures', `${JSON.stringify(measure(1))}\n{oops\n`, token, {
    'Content-Type': 'application/x-ndjson',
  })
  assert.is(bad.status, 400)
  assert.equal(await bad.json(), { error: 'Malformed JSON on line 2', index: 1 })
})

test('limits: too many items or too large a body is 413; empty or not an array is 400', async ({ server, token }) => {
  const tooMany = await server.post(
    '/measures',
    Array.from({ length: 101 }, (_, i) => measure(i)),
    token,
  )
  assert.is(tooMany.status, 413)
  assert.equal(await tooMany.json(), { error: 'Too many measures in one request: at most 100' })
  const tooLarge = await server.post('/measures', [{ ...measure(1), createdBy: 'x'.repeat(30_000) }], token)
  assert.is(tooLarge.status, 413)
  assert.equal(await (await server.post('/measures', [], token)).json(), { error: 'The measures cannot be empty' })
  assert.equal(await (await server.post('/measures', measure(1), token)).json(), {
    error: 'The body must be a JSON array of measures',
  })
})

test('back-pressure: a full queue answers 503 with Retry-After, and what was acknowledged is all there', async ({
  server,
  token,
}) => {
  const before = await countOf(server, 'batch')
  const responses = await Promise.all(
    Array.from({ length: 40 }, () =>
      server.post(
        '/measures',
        Array.from({ length: 40 }, (_, i) => measure(i)),
        token,
      ),
    ),
  )
  const refused = responses.filter((response) => response.status === 503)
  const accepted = responses.filter((response) => response.status === 201)
  assert.ok(refused.length > 0, 'some requests are refused')
  assert.is(accepted.length + refused.length, 40)
  assert.is(refused[0].headers.get('retry-after'), '1')
  assert.is(await countOf(server, 'batch'), before + accepted.length * 40)
})

test.run()
