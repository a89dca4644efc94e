import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { askAll, everyRequest, postMeasures, type Measure, type Row } from './attack.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

// Dominance: in a group that passes the threshold, the max (or min) is still one measure's value.
type Context = { server: TestServer; token: string }
const test = suite<Context>('hideExtremes, attacked', {} as Context)
const base = { group1Key: 'slug', group2Key: 'status', aggregationThreshold: 3, accessApp: true, withQuartiles: false }
const VICTIM = 980.25

test.before(async (context) => {
  const server = (context.server = await startTestServer())
  context.token = await server.token()
  server.define({ name: 'extremes-shown', ...base }, { name: 'extremes-hidden', ...base, hideExtremes: true })
  const at = (slug: string, value: number): Measure => ({
    day: '2022-01-05',
    createdBy: 'app1',
    slug,
    status: 'ok',
    value,
  })
  const measures = [at('x', 1), at('x', 2), at('x', 3), at('x', VICTIM), at('y', 5), at('y', 6), at('y', 7)]
  for (const name of ['extremes-shown', 'extremes-hidden']) await postMeasures(server, context.token, name, measures)
})
test.after(async ({ server }) => server.close())

const values = (rows: Row[]) => rows.flatMap((row) => Object.values(row))

test('without it, the max of a shown group is the largest measure itself', async ({ server, token }) => {
  const answers = await askAll(server, token, everyRequest('extremes-shown'))
  assert.ok(answers.some(({ body }) => values(body).includes(VICTIM)))
})

test('with it, no answer to any combination of parameters holds a min, a max, or the value', async ({
  server,
  token,
}) => {
  const answers = await askAll(server, token, everyRequest('extremes-hidden'))
  assert.ok(answers.every(({ status }) => status === 200))
  const rows = answers.flatMap(({ body }) => body as Row[])
  assert.ok(rows.length > 100, `${rows.length} rows`)
  assert.equal(
    rows.filter((row) => 'min' in row || 'max' in row),
    [],
  )
  assert.not.ok(values(rows).includes(VICTIM))
  // The other statistics are unchanged.
  const shown = await server.post(
    '/aggregate',
    { measureName: 'extremes-shown', startDate: '2022-01-05', endDate: '2022-01-06' },
    token,
  )
  const hidden = await server.post(
    '/aggregate',
    { measureName: 'extremes-hidden', startDate: '2022-01-05', endDate: '2022-01-06' },
    token,
  )
  const without = (row: Row) => ({ ...row, min: undefined, max: undefined, measureName: undefined })
  assert.equal(((await hidden.json()) as Row[]).map(without), ((await shown.json()) as Row[]).map(without))
})

test.run()
