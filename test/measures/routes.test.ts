import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { measureExamples } from '../../src/openapi/examples.ts'
import { ROOT, startTestServer, type TestServer } from '../helpers/server.ts'

const FIXTURES = path.join(ROOT, 'test/fixtures')

// The documented example (README, OpenAPI document): DESIGN.md's measure with three groups.
const valid = measureExamples.withGroups

type Context = { server: TestServer; token: string }
const test = suite<Context>('POST /measure', {} as Context)

test.before(async (context) => {
  context.server = await startTestServer()
  context.server.deps.definitions.insertFile(path.join(FIXTURES, 'ecolyo-definitions.json'))
  context.token = await context.server.token()
})
test.after(async ({ server }) => server.close())

async function expectError({ server, token }: Context, body: unknown, status: number, error: string) {
  const response = await server.post('/measure', body, token)
  assert.is(response.status, status, `status for ${JSON.stringify(body).slice(0, 80)}`)
  assert.equal(await response.json(), { error })
}

test('a measure with three groups is stored and aggregated', async ({ server, token }) => {
  const response = await server.post('/measure', valid, token)
  assert.is(response.status, 201)
  assert.equal(await response.json(), { ok: true })
  const rows = await server.query(
    "SELECT measure_name, start_date, created_by, group1, group2, group3, value, with_quartiles FROM raw_measures WHERE measure_name = 'konnector-event-daily'",
  )
  assert.is(rows.length, 1)
  assert.equal(rows[0], {
    measure_name: 'konnector-event-daily',
    start_date: '2022-01-01 00:00:00',
    created_by: 'ecolyo',
    group1: 'enedis',
    group2: 'connection',
    group3: 'success',
    value: 1,
    with_quartiles: false,
  })
  const [aggregate] = await server.query(
    "SELECT sum(count) AS n, sum(sum) AS s FROM aggregates WHERE measure_name = 'konnector-event-daily'",
  )
  assert.equal(aggregate, { n: 1, s: 1 })
})

test('a measure of a definition without groups, a numeric string value and a date-time', async ({ server, token }) => {
  const response = await server.post(
    '/measure',
    { measureName: 'profile-count', value: '42.5', startDate: '2021-07-01T10:20:30+14:00' },
    token,
  )
  assert.is(response.status, 201)
  const rows = await server.query(
    "SELECT start_date, value, created_by, group1 FROM raw_measures WHERE measure_name = 'profile-count'",
  )
  // The offset is ignored: startDate is a wall-clock bucket, kept to the second.
  assert.equal(rows, [{ start_date: '2021-07-01 10:20:30', value: 42.5, created_by: '', group1: '' }])
})

test('group values that are numbers or booleans are stored as strings', async ({ server, token }) => {
  const measure = {
    measureName: 'quiz-stars',
    value: 3,
    startDate: '2022-02-02',
    group1: { challenge_id: 7 },
    group2: { quiz_id: true },
  }
  assert.is((await server.post('/measure', measure, token)).status, 201)
  const rows = await server.query("SELECT group1, group2 FROM raw_measures WHERE measure_name = 'quiz-stars'")
  assert.equal(rows, [{ group1: '7', group2: 'true' }])
})

test('each invalid measure gets the original message, in the original order', async (context) => {
  const cases: [unknown, string][] = [
    [{}, 'The measure cannot be empty'],
    [{ value: 1 }, 'A measure name must be given'],
    [{ measureName: null, value: 'x' }, 'A measure name must be given'],
    [{ measureName: 'nope', value: 'x' }, 'No measure definition found for: nope'],
    [{ measureName: 'profile-count', startDate: 'x' }, 'A value must be given'],
    [{ measureName: 'profile-count', value: 'abc', startDate: 'x' }, 'value type is incorrect, it must be a number'],
    [
      { measureName: 'profile-count', value: true, startDate: '2022-01-01' },
      'value type is incorrect, it must be a number',
    ],
    [
      { measureName: 'profile-count', value: '1e999', startDate: '2022-01-01' },
      'value type is incorrect, it must be a number',
    ],
    [{ measureName: 'profile-count', value: 1, group1: 'x' }, 'startDate must be given'],
    [
      { measureName: 'profile-count', value: 1, startDate: '2022-13-01' },
      'startDate type is incorrect, it must be a date',
    ],
    [
      { measureName: 'profile-count', value: 1, startDate: '2022-02-30' },
      'startDate type is incorrect, it must be a date',
    ],
    [{ measureName: 'profile-count', value: 1, startDate: 20220101 }, 'startDate type is incorrect, it must be a date'],
    // ISO 8601 offsets go from -14:00 to +14:00.
    [
      { measureName: 'profile-count', value: 1, startDate: '2024-09-01T10:00:00+99:00' },
      'startDate type is incorrect, it must be a date',
    ],
    [
      { measureName: 'profile-count', value: 1, startDate: '2024-09-01T10:00:00-14:01' },
      'startDate type is incorrect, it must be a date',
    ],
    [
      { measureName: 'profile-count', value: 1, startDate: '2024-09-01T10:00:00+05:60' },
      'startDate type is incorrect, it must be a date',
    ],
    [
      { measureName: 'connection-count-daily', value: 1, startDate: '2022-01-01', group1: ['dummy'] },
      'groups format is incorrect',
    ],
    [
      { measureName: 'connection-count-daily', value: 1, startDate: '2022-01-01', group1: { a: 1, b: 2 } },
      'groups format is incorrect',
    ],
    [
      { measureName: 'connection-count-daily', value: 1, startDate: '2022-01-01', group1: { device: {} } },
      'groups format is incorrect',
    ],
    [
      { measureName: 'connection-count-daily', value: 1, startDate: '2022-01-01', group1: { dummy: 'x' } },
      'Group1 key does not match measure definition: dummy',
    ],
    [
      { measureName: 'connection-count-daily', value: 1, startDate: '2022-01-01' },
      'Group1 key does not match measure definition: None',
    ],
    // A group present but not an object with a key: the original's "format" message, even null; only an absent one reads None.
    [
      { measureName: 'connection-count-daily', value: 1, startDate: '2022-01-01', group1: null },
      'groups format is incorrect',
    ],
    [
      { measureName: 'connection-count-daily', value: 1, startDate: '2022-01-01', group1: 'desktop' },
      'groups format is incorrect',
    ],
    [
      { measureName: 'connection-count-daily', value: 1, startDate: '2022-01-01', group1: {} },
      'groups format is incorrect',
    ],
    [
      {
        measureName: 'connection-count-daily',
        value: 1,
        startDate: '2022-01-01',
        group1: { device: 'x' },
        group2: { dummy: 'x' },
      },
      'Group2 key does not match measure definition: dummy',
    ],
    [{ ...valid, group3: { nope: 'x' } }, 'Group3 key does not match measure definition: nope'],
    [
      { measureName: 'profile-count', value: 1, startDate: '2022-01-01', createdBy: 5 },
      'createdBy type is incorrect, it must be a string of at most 200 characters',
    ],
    // Values far beyond any measure would make a bucket's sum infinite for good.
    [
      { measureName: 'profile-count', value: 1.7976931348623157e308, startDate: '2022-01-01' },
      'value type is incorrect, it must be a number',
    ],
    [
      { measureName: 'profile-count', value: '2e15', startDate: '2022-01-01' },
      'value type is incorrect, it must be a number',
    ],
    // A lone UTF-16 surrogate would fail the whole INSERT of its batch, other producers' measures too.
    [
      { measureName: 'profile-count', value: 1, startDate: '2022-01-01', createdBy: '\ud800' },
      'createdBy type is incorrect, it must be a string of at most 200 characters',
    ],
    [
      { measureName: 'connection-count-daily', value: 1, startDate: '2022-01-01', group1: { device: 'a\udc00' } },
      'groups format is incorrect',
    ],
  ]
  for (const [body, error] of cases) await expectError(context, body, 400, error)
  const [{ n }] = await context.server.query(
    "SELECT count() AS n FROM raw_measures WHERE measure_name = 'connection-count-daily'",
  )
  assert.is(n, 0)
})

test('malformed JSON, a wrong content type and an oversized body', async (context) => {
  await expectError(context, '{"measureName": ', 400, 'Malformed JSON body')
  await expectError(context, ' null ', 400, 'The measure cannot be empty')
  await expectError(
    context,
    JSON.stringify({ ...valid, createdBy: 'x'.repeat(1024 * 1024) }),
    413,
    'Request body is too large',
  )
  const response = await context.server.post('/measure', 'measureName=x', context.token, {
    'Content-Type': 'application/x-www-form-urlencoded',
  })
  assert.is(response.status, 415)
  assert.equal(await response.json(), { error: 'Content-Type must be application/json' })
})

test('a missing, malformed, unknown or forged token gets 401 with WWW-Authenticate', async ({ server, token }) => {
  const forged = token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA')
  for (const authorization of [
    undefined,
    'Bearer',
    'Basic abc',
    `Bearer ${forged}`,
    'Bearer not-a-jwt',
    `Token ${token}`,
  ]) {
    const response = await fetch(`${server.url}/measure`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(authorization ? { Authorization: authorization } : {}) },
      body: JSON.stringify(valid),
    })
    assert.is(response.status, 401, String(authorization))
    assert.is(response.headers.get('www-authenticate'), 'Bearer realm="Authentication Required"')
    assert.equal(await response.json(), { error: 'Unauthorized Access' })
  }
})

test('a token without the measure:write scope is refused', async ({ server }) => {
  const reader = await server.token(['aggregate:read'])
  const response = await server.post('/measure', valid, reader)
  assert.is(response.status, 403)
})

test('unknown routes and methods answer JSON: 404, or 405 with Allow', async ({ server }) => {
  const missing = await fetch(`${server.url}/nope`)
  assert.is(missing.status, 404)
  assert.equal(await missing.json(), { error: 'Not found: GET /nope' })
  const wrongMethod = await fetch(`${server.url}/measure`)
  assert.is(wrongMethod.status, 405)
  assert.is(wrongMethod.headers.get('allow'), 'POST')
  assert.equal(await wrongMethod.json(), { error: 'Method Not Allowed' })
  // A method no route knows is bad input too, never a 5xx.
  const unknownMethod = await fetch(`${server.url}/measure`, { method: 'PROPFIND' })
  assert.is(unknownMethod.status, 405)
  assert.equal(await unknownMethod.json(), { error: 'Method Not Allowed' })
  const unknownBoth = await fetch(`${server.url}/nope`, { method: 'PROPFIND' })
  assert.is(unknownBoth.status, 404)
})

test('a body that does not inflate, or chunked without a JSON type, is a 4xx', async ({ server, token }) => {
  const gzip = await server.post('/measure', 'not gzip', token, { 'Content-Encoding': 'gzip' })
  assert.is(gzip.status, 400)
  assert.equal(await gzip.json(), { error: 'Malformed compressed body' })
  const body = new ReadableStream({
    start: (controller) => {
      controller.enqueue(new TextEncoder().encode(JSON.stringify(valid)))
      controller.close()
    },
  })
  const chunked = await fetch(`${server.url}/measure`, {
    method: 'POST',
    headers: { 'Content-Type': 'text/plain', Authorization: `Bearer ${token}` },
    body,
    duplex: 'half',
  } as RequestInit)
  assert.is(chunked.status, 415)
})

test('the Bearer scheme name is case-insensitive', async ({ server, token }) => {
  const response = await fetch(`${server.url}/measure`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `bearer ${token}` },
    body: JSON.stringify(valid),
  })
  assert.is(response.status, 201)
})

test('2,000 concurrent measures all get 201 and are all stored and counted once', async ({ server, token }) => {
  const responses = await Promise.all(
    Array.from({ length: 2000 }, (_, i) =>
      server.post(
        '/measure',
        {
          measureName: 'connection-count-daily',
          value: i,
          startDate: '2022-03-01',
          group1: { device: i % 2 ? 'desktop' : 'mobile' },
        },
        token,
      ),
    ),
  )
  assert.equal(new Set(responses.map((response) => response.status)), new Set([201]))
  const [raw] = await server.query(
    "SELECT count() AS n, sum(value) AS s FROM raw_measures WHERE measure_name = 'connection-count-daily'",
  )
  assert.equal(raw, { n: 2000, s: (1999 * 2000) / 2 })
  const [aggregated] = await server.query(
    "SELECT sum(count) AS n, sum(sum) AS s FROM aggregates WHERE measure_name = 'connection-count-daily'",
  )
  assert.equal(aggregated, { n: 2000, s: (1999 * 2000) / 2 })
})

test('GET /status reports both stores and the write path', async ({ server }) => {
  await server.settled()
  const response = await fetch(`${server.url}/status`)
  assert.is(response.status, 200)
  const body = (await response.json()) as { db: { version: string } }
  assert.match(body.db.version, /^\d+\.\d+\./)
  assert.equal(Object.keys(body.db), ['status', 'version'])
  assert.equal(body, {
    db: { status: 'ok', version: body.db.version },
    sqlite: { status: 'ok' },
    writes: { status: 'ok', backlog: 0 },
    global_status: 'ok',
  })
})

test.run()
