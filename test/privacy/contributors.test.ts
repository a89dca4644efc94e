import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createPrivacyKeys } from '../../src/privacy/keys.ts'
import { askAll, everyRequest, postMeasures, type Measure, type Row } from './attack.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

type Context = { server: TestServer; token: string }
const test = suite<Context>('distinct contributors', {} as Context)
const SECRET = 's'.repeat(32)
const base = { group1Key: 'slug', group2Key: 'status', aggregationThreshold: 3, accessApp: true }

test.before(async (context) => {
  context.server = await startTestServer({ privacy: { secret: SECRET } })
  context.token = await context.server.token()
  context.server.define(
    { name: 'by-contributors', ...base, thresholdOn: 'contributors' },
    { name: 'by-measures', ...base },
  )
})
test.after(async ({ server }) => server.close())

const measure = (extra: Record<string, unknown>) => ({
  measureName: 'by-measures',
  value: 1,
  startDate: '2022-01-01',
  group1: { slug: 'x' },
  group2: { status: 'ok' },
  ...extra,
})

test('a malformed contributor gets a 400 after the original checks, which keep their order', async ({
  server,
  token,
}) => {
  const message = 'contributor type is incorrect, it must be a string of 1 to 200 characters'
  const cases: [Record<string, unknown>, string][] = [
    [{ contributor: 5 }, message],
    [{ contributor: '' }, message],
    [{ contributor: 'x'.repeat(201) }, message],
    [{ contributor: ['a'] }, message],
    [{ contributor: 5, value: undefined }, 'A value must be given'],
    [{ contributor: 5, group1: { device: 'x' } }, 'Group1 key does not match measure definition: device'],
    [{ contributor: 5, createdBy: 3 }, 'createdBy type is incorrect, it must be a string of at most 200 characters'],
  ]
  for (const [extra, error] of cases) {
    const response = await server.post('/measure', measure(extra), token)
    assert.equal(
      { status: response.status, body: await response.json() },
      { status: 400, body: { error } },
      JSON.stringify(extra),
    )
  }
  const batch = await server.post('/measures', [measure({ contributor: 'ok' }), measure({ contributor: 7 })], token)
  assert.equal(await batch.json(), { error: message, index: 1 })
  for (const contributor of [null, 'x'.repeat(200)])
    assert.is((await server.post('/measure', measure({ contributor }), token)).status, 201)
})

test('ClickHouse keeps a keyed hash of each pseudonym, never the pseudonym', async ({ server, token }) => {
  const pseudonyms = ['instance-one', 'instance-two', 'instance-one']
  for (const contributor of pseudonyms)
    assert.is((await server.post('/measure', measure({ contributor, startDate: '2022-03-01' }), token)).status, 201)
  assert.is((await server.post('/measure', measure({ startDate: '2022-03-01' }), token)).status, 201)
  const rows = await server.query<{ contributor: string }>(
    "SELECT toString(contributor) AS contributor FROM raw_measures WHERE start_date = '2022-03-01 00:00:00' ORDER BY received_at, contributor",
  )
  const keys = createPrivacyKeys(SECRET)
  assert.equal(rows.map((row) => row.contributor).sort(), [...pseudonyms.map(keys.contributorId), '0'].sort())
  const everything =
    JSON.stringify(await server.query('SELECT * FROM raw_measures')) +
    JSON.stringify(await server.query('SELECT * FROM aggregates'))
  assert.not.match(everything, /instance-/)
})

test('one instance posting many measures cannot reach the threshold alone, whatever is asked', async ({
  server,
  token,
}) => {
  const one = (slug: string, contributor?: string): Measure => ({
    day: '2022-01-05',
    createdBy: 'app1',
    slug,
    status: 'ok',
    value: 10,
    ...(contributor ? { contributor } : {}),
  })
  // 15 measures of one instance, and 10 without a contributor, which count no one.
  const measures = [
    ...Array.from({ length: 15 }, () => one('x', 'heavy-user')),
    ...Array.from({ length: 10 }, () => one('x')),
  ]
  await postMeasures(server, token, 'by-contributors', measures)
  await postMeasures(server, token, 'by-measures', measures)
  const answers = await askAll(server, token, everyRequest('by-contributors'))
  assert.ok(answers.every(({ status }) => status === 200))
  assert.equal(
    answers.filter(({ body }) => body.length > 0).map(({ request }) => request),
    [],
  )
  // Counting measures, the same data is shown (25 measures), without a contributors field.
  const byMeasures = await server.post(
    '/aggregate',
    { measureName: 'by-measures', startDate: '2022-01-05', endDate: '2022-01-06' },
    token,
  )
  assert.equal(
    ((await byMeasures.json()) as Row[]).map((row: Row) => [row.count, row.contributors]),
    [[25, undefined]],
  )

  await postMeasures(server, token, 'by-contributors', [one('x', 'second'), one('x', 'third')])
  const response = await server.post(
    '/aggregate',
    { measureName: 'by-contributors', startDate: '2022-01-05', endDate: '2022-01-06', wildcard: 'group1' },
    token,
  )
  assert.equal(
    ((await response.json()) as Row[]).map((row: Row) => [row.group1.slug, row.count, row.contributors]),
    [
      ['x', 27, 3],
      ['*', 27, 3],
    ],
  )
})

test.run()
