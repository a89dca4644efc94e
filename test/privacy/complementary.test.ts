import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { askAll, cellsOf, cellsOfMeasures, everyRequest, postMeasures, type Answer, type Measure, type Row } from './attack.ts'
import { createSolver } from './solver.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

// The differencing attack on wildcard rows, and complementary suppression against it. The same
// measures go to a plain definition and to two protected ones; the attacker asks every
// combination of period, wildcard, createdBy and range, then adds and subtracts every row it got.
type Context = { server: TestServer; token: string }
const test = suite<Context>('complementary suppression, attacked', {} as Context)

const THRESHOLD = 3
const base = { group1Key: 'slug', group2Key: 'status', aggregationThreshold: THRESHOLD, accessApp: true, aggregationPeriod: 'day' as const }
const VICTIM: Measure = { day: '2022-01-05', createdBy: 'app1', slug: 'victim', status: 'ok', value: 42 }

function dataset(): Measure[] {
  let seed = 7
  const random = () => ((seed = (seed * 48271) % 2147483647) / 2147483647)
  const measures: Measure[] = [VICTIM, { day: '2022-01-07', createdBy: 'app2', slug: 'd', status: 'ko', value: 7 }, { day: '2022-01-07', createdBy: 'app2', slug: 'd', status: 'ko', value: 9 }]
  for (let day = 3; day <= 9; day++) {
    for (const createdBy of ['app1', 'app2']) {
      for (const slug of ['a', 'b', 'c']) {
        for (const status of ['ok', 'ko']) {
          const count = THRESHOLD + Math.floor(random() * 4)
          for (let i = 0; i < count; i++) measures.push({ day: `2022-01-0${day}`, createdBy, slug, status, value: Math.floor(random() * 100) })
        }
      }
    }
  }
  return measures
}
const MEASURES = dataset()
const CELLS = cellsOfMeasures(MEASURES)

test.before(async (context) => {
  const server = (context.server = await startTestServer())
  context.token = await server.token()
  server.define(
    { name: 'plain', ...base },
    { name: 'protected-chain', ...base, complementarySuppression: true },
    { name: 'protected-cross', ...base, complementarySuppression: true, withQuartiles: true },
  )
  server.deps.wildcards.register('protected-chain', ['group2'])
  server.deps.wildcards.register('protected-chain', ['group1', 'group2'])
  server.deps.wildcards.register('protected-cross', ['group1'])
  server.deps.wildcards.register('protected-cross', ['group2'])
  for (const name of ['plain', 'protected-chain', 'protected-cross']) await postMeasures(server, context.token, name, MEASURES)
})
test.after(async ({ server }) => server.close())

/** Publishes every row of every answer to a solver over the cells; `period` is what an answer is by. */
function solve(answers: Answer[], protectedMeasure: boolean) {
  const solver = createSolver(CELLS.length)
  let rows = 0
  for (const { request, status, body } of answers) {
    if (status !== 200) continue
    const period = request.period ?? (protectedMeasure ? 'day' : null)
    for (const row of body as Row[]) {
      solver.publish(cellsOf(row, request, period, protectedMeasure, CELLS))
      rows += 1
    }
  }
  return { solver, rows }
}

const hiddenCells = () => CELLS.flatMap((cell, index) => (cell.count < THRESHOLD ? [index] : []))
const victimCell = () => CELLS.findIndex((cell) => cell.slug === 'victim')

test('without protection, a "*" row minus the rows it sums is the hidden measure', async ({ server, token }) => {
  const response = await server.post('/aggregate', { measureName: 'plain', startDate: '2022-01-05', endDate: '2022-01-06', createdBy: 'app1', wildcard: 'group1' }, token)
  const rows = (await response.json()) as Row[]
  const ok = rows.filter((row) => row.group2.status === 'ok')
  const star = ok.find((row) => row.group1.slug === '*')!
  const others = ok.filter((row) => row.group1.slug !== '*')
  assert.equal(others.map((row) => row.group1.slug), ['a', 'b', 'c'])
  assert.is(star.count - others.reduce((total, row) => total + row.count, 0), 1)
  assert.is(Math.round(star.sum - others.reduce((total, row) => total + row.sum, 0)), VICTIM.value)
  // ...and the solver, given every answer, finds it too.
  const { solver } = solve(await askAll(server, token, everyRequest('plain')), false)
  assert.ok(solver.computable([victimCell()]))
})

for (const name of ['protected-chain', 'protected-cross']) {
  test(`${name}: no hidden cell follows from every answer to every combination of parameters`, async ({ server, token }) => {
    const answers = await askAll(server, token, everyRequest(name))
    // Other granularities and unregistered rollups are refused, with the reason.
    for (const { request, status, body } of answers) {
      if (status === 200) continue
      assert.is(status, 400, JSON.stringify(request))
      assert.match(body.error, /^(period must be day for this measure|wildcard [\w,]+ is not registered for this measure)/)
    }
    const { solver, rows } = solve(answers, true)
    assert.ok(rows > 500, `${rows} rows seen`)
    assert.ok(answers.some(({ body }) => Array.isArray(body) && body.some((row: Row) => row.group1.slug === '*' || row.group2.status === '*')), 'some "*" rows are shown')
    assert.equal(hiddenCells().filter((cell) => solver.computable([cell])), [])
    // Each row reads the same in every answer: the answers are parts of one suppressed whole.
    const seen = new Map<string, string>()
    for (const { status, body } of answers) {
      if (status !== 200) continue
      for (const row of body as Row[]) {
        const key = JSON.stringify([row.startDate, row.createdBy, row.group1, row.group2])
        assert.is(seen.get(key) ?? JSON.stringify(row), JSON.stringify(row), key)
        seen.set(key, JSON.stringify(row))
      }
    }
  })
}

test('the period of a protected measure is its aggregationPeriod, or its stored buckets without one', async ({ server, token }) => {
  server.define({ name: 'protected-stored', ...base, aggregationPeriod: null, complementarySuppression: true })
  const ask = async (measureName: string, period?: string) => {
    const response = await server.post('/aggregate', { measureName, startDate: '2022-01-01', endDate: '2022-02-01', period }, token)
    return { status: response.status, body: await response.json() }
  }
  assert.is((await ask('protected-chain')).status, 200)
  assert.equal(await ask('protected-chain'), await ask('protected-chain', 'day'))
  assert.equal(await ask('protected-chain', 'week'), { status: 400, body: { error: 'period must be day for this measure, the only one it is published by' } })
  assert.equal(await ask('protected-stored', 'day'), {
    status: 400,
    body: { error: 'period must be absent for this measure, which is published by its stored buckets only' },
  })
  const refused = await server.post('/aggregate', { measureName: 'protected-chain', startDate: '2022-01-01', endDate: '2022-02-01', wildcard: 'group1' }, token)
  assert.equal(await refused.json(), {
    error: 'wildcard group1 is not registered for this measure, which is published with its registered wildcard sets only: group1,group2; group2',
  })
})

test('all the options together', async ({ server, token }) => {
  server.define({
    name: 'everything', ...base, withQuartiles: true, complementarySuppression: true, thresholdOn: 'contributors', hideExtremes: true,
    noise: { epsilon: 1, valueMin: 0, valueMax: 100 },
  })
  server.deps.wildcards.register('everything', ['group1'])
  await postMeasures(server, token, 'everything', MEASURES.map((measure, index) => ({ ...measure, contributor: `instance-${index % 40}` })))
  const response = await server.post('/aggregate', { measureName: 'everything', startDate: '2022-01-01', endDate: '2022-02-01', wildcard: 'group1' }, token)
  const rows = (await response.json()) as Row[]
  assert.is(response.status, 200)
  assert.ok(rows.length > 20 && rows.some((row) => row.group1.slug === '*'), `${rows.length} rows`)
  for (const row of rows) {
    // A noisy count may reach 0: there is no average then.
    const keys = ['contributors', 'count', 'countNotZero', 'createdBy', 'firstQuartile', 'group1', 'group2', 'measureName', 'median', 'startDate', 'std', 'sum', 'thirdQuartile']
    assert.equal(Object.keys(row), row.count > 0 ? ['avg', ...keys] : keys)
  }
})

test.run()
