import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { askAll, everyRequest, postMeasures, type Measure, type Row } from './attack.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

// A definition without the privacy options answers as before them: an answer without rollups is
// the threshold's alone, as the original's, and one with rollups is suppressed within itself
// (test/aggregates/crosscheck.test.ts checks both against the posted values); with the options at
// their defaults, it answers the same.
type Context = { server: TestServer; token: string }
const test = suite<Context>('privacy options off', {} as Context)
const base = { group1Key: 'slug', group2Key: 'status', aggregationThreshold: 3, accessApp: true, withQuartiles: true }

test.before(async (context) => {
  const server = (context.server = await startTestServer())
  context.token = await server.token()
  server.define(
    { name: 'plain', ...base },
    { name: 'defaults', ...base, thresholdOn: 'measures', fixedPublication: false, hideExtremes: false, noise: null },
  )
  let seed = 11
  const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647
  const measures: Measure[] = Array.from({ length: 400 }, () => ({
    day: `2022-01-0${3 + Math.floor(random() * 7)}`,
    createdBy: random() < 0.7 ? 'app1' : 'app2',
    slug: ['a', 'b', 'c', 'd'][Math.floor(random() * random() * 4)],
    status: random() < 0.8 ? 'ok' : 'ko',
    value: Math.floor(random() * 400) / 4,
    contributor: `instance-${Math.floor(random() * 50)}`,
  }))
  for (const name of ['plain', 'defaults']) {
    server.deps.wildcards.register(name, ['group2'], { fromDate: '2022-01-05' })
    await postMeasures(server, context.token, name, measures)
  }
})
test.after(async ({ server }) => server.close())

test('the stored definition gains no field', ({ server }) => {
  assert.equal(Object.keys(server.deps.definitions.get('plain')!).sort(), [
    'accessApp',
    'accessPublic',
    'aggregationThreshold',
    'group1Key',
    'group2Key',
    'name',
    'withQuartiles',
  ])
})

test('every combination of parameters gets the same answer with the options absent or at their defaults', async ({
  server,
  token,
}) => {
  const plain = await askAll(server, token, everyRequest('plain'))
  const defaults = await askAll(server, token, everyRequest('defaults'))
  const text = (answers: typeof plain) =>
    answers.map(
      ({ status, body }) =>
        `${status} ${JSON.stringify(body).replaceAll('"measureName":"defaults"', '"measureName":"plain"')}`,
    )
  assert.equal(text(defaults), text(plain))
  assert.ok(plain.every(({ status }) => status === 200))
  const rows = plain.flatMap(({ body }) => body)
  assert.ok(rows.length > 1000, `${rows.length} rows`)
  // Partial periods, as before: a range cutting a week gives part of it.
  const week = await server.post(
    '/aggregate',
    { measureName: 'plain', startDate: '2022-01-05', endDate: '2022-01-06', period: 'week', createdBy: 'app1' },
    token,
  )
  const day = await server.post(
    '/aggregate',
    { measureName: 'plain', startDate: '2022-01-05', endDate: '2022-01-06', createdBy: 'app1' },
    token,
  )
  // (the registered rollup starts on 2022-01-05: it has that day's rows, not the week's)
  const counts = (rows: Row[]) => rows.reduce((total, row) => total + (row.group2.status === '*' ? 0 : row.count), 0)
  assert.is(counts((await week.json()) as Row[]), counts((await day.json()) as Row[]))
})

test.run()
