import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  askAll,
  cellsOf,
  cellsOfMeasures,
  everyRequest,
  postMeasures,
  type Answer,
  type Measure,
  type Row,
} from './attack.ts'
import { createSolver } from './solver.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

// The differencing attack on wildcard rows, and complementary suppression against it. The same
// measures go to a definition without options, whose every answer is suppressed within itself,
// and to two with fixedPublication, whose answers are parts of one suppressed whole; the attacker
// asks every combination of period, wildcard, createdBy and range, then adds and subtracts rows.
type Context = { server: TestServer; token: string }
const test = suite<Context>('complementary suppression, attacked', {} as Context)

const THRESHOLD = 3
const base = {
  group1Key: 'slug',
  group2Key: 'status',
  aggregationThreshold: THRESHOLD,
  accessApp: true,
  aggregationPeriod: 'day' as const,
}
const VICTIM: Measure = { day: '2022-01-05', createdBy: 'app1', slug: 'victim', status: 'ok', value: 42 }

function dataset(): Measure[] {
  let seed = 7
  const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647
  const measures: Measure[] = [
    VICTIM,
    { day: '2022-01-07', createdBy: 'app2', slug: 'd', status: 'ko', value: 7 },
    { day: '2022-01-07', createdBy: 'app2', slug: 'd', status: 'ko', value: 9 },
  ]
  for (let day = 3; day <= 9; day++) {
    for (const createdBy of ['app1', 'app2']) {
      for (const slug of ['a', 'b', 'c']) {
        for (const status of ['ok', 'ko']) {
          const count = THRESHOLD + Math.floor(random() * 4)
          for (let i = 0; i < count; i++)
            measures.push({ day: `2022-01-0${day}`, createdBy, slug, status, value: Math.floor(random() * 100) })
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
    { name: 'fixed-chain', ...base, fixedPublication: true },
    { name: 'fixed-cross', ...base, fixedPublication: true, withQuartiles: true },
  )
  server.deps.wildcards.register('fixed-chain', ['group2'])
  server.deps.wildcards.register('fixed-chain', ['group1', 'group2'])
  server.deps.wildcards.register('fixed-cross', ['group1'])
  server.deps.wildcards.register('fixed-cross', ['group2'])
  for (const name of ['plain', 'fixed-chain', 'fixed-cross']) await postMeasures(server, context.token, name, MEASURES)
})
test.after(async ({ server }) => server.close())

/** Publishes every row of every answer to a solver over the cells; `period` is what an answer is by. */
function solve(answers: Answer[], fixed: boolean) {
  const solver = createSolver(CELLS.length)
  let rows = 0
  for (const { request, status, body } of answers) {
    if (status !== 200) continue
    const period = request.period ?? (fixed ? 'day' : null)
    for (const row of body as Row[]) {
      solver.publish(cellsOf(row, request, period, fixed, CELLS))
      rows += 1
    }
  }
  return { solver, rows }
}

const hiddenCells = () => CELLS.flatMap((cell, index) => (cell.count < THRESHOLD ? [index] : []))
const victimCell = () => CELLS.findIndex((cell) => cell.slug === 'victim')
const hasStar = (rows: Row[]) => rows.some((row) => row.group1.slug === '*' || row.group2.status === '*')

test('by default, no answer to any combination of parameters gives a hidden cell away on its own', async ({
  server,
  token,
}) => {
  const answers = await askAll(server, token, everyRequest('plain'))
  assert.ok(answers.every(({ status }) => status === 200))
  assert.ok(answers.filter(({ body }) => hasStar(body)).length > 100, 'many answers have "*" rows')
  for (const answer of answers) {
    const { solver } = solve([answer], false)
    assert.equal(
      hiddenCells().filter((cell) => solver.computable([cell])),
      [],
      JSON.stringify(answer.request),
    )
  }
})

test('by default, answers to different requests still combine: a "*" row minus rows of another answer is the hidden measure', async ({
  server,
  token,
}) => {
  const ask = async (wildcard?: string) => {
    const response = await server.post(
      '/aggregate',
      { measureName: 'plain', startDate: '2022-01-05', endDate: '2022-01-06', createdBy: 'app1', wildcard },
      token,
    )
    return ((await response.json()) as Row[]).filter((row) => row.group2.status === 'ok')
  }
  const withStar = await ask('group1')
  const star = withStar.find((row) => row.group1.slug === '*')!
  const beside = withStar.filter((row) => row.group1.slug !== '*')
  // In the answer, the "*" row minus the slugs beside it is the victim and one more slug, left out for that.
  assert.is(beside.length, 2)
  const complement = (await ask()).find((row) => !beside.some((shown) => shown.group1.slug === row.group1.slug))!
  assert.ok(['a', 'b', 'c'].includes(complement.group1.slug), 'the answer without wildcard shows it')
  const count = (rows: Row[]) => rows.reduce((total, row) => total + row.count, 0)
  const sum = (rows: Row[]) => rows.reduce((total, row) => total + row.sum, 0)
  assert.is(star.count - count([...beside, complement]), 1)
  assert.is(Math.round(star.sum - sum([...beside, complement])), VICTIM.value)
  // ...and the solver, given every answer, finds it too: what fixedPublication is for.
  const { solver } = solve(await askAll(server, token, everyRequest('plain')), false)
  assert.ok(solver.computable([victimCell()]))
})

for (const name of ['fixed-chain', 'fixed-cross']) {
  test(`${name}: no hidden cell follows from every answer to every combination of parameters`, async ({
    server,
    token,
  }) => {
    const answers = await askAll(server, token, everyRequest(name))
    // Other granularities and unregistered rollups are refused, with the reason.
    for (const { request, status, body } of answers) {
      if (status === 200) continue
      assert.is(status, 400, JSON.stringify(request))
      assert.match(
        body.error,
        /^(period must be day for this measure|wildcard [\w,]+ is not registered for this measure)/,
      )
    }
    const { solver, rows } = solve(answers, true)
    assert.ok(rows > 500, `${rows} rows seen`)
    assert.ok(
      answers.some(({ body }) => Array.isArray(body) && hasStar(body)),
      'some "*" rows are shown',
    )
    assert.equal(
      hiddenCells().filter((cell) => solver.computable([cell])),
      [],
    )
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

test('the period of a fixedPublication measure is its aggregationPeriod, or its stored buckets without one', async ({
  server,
  token,
}) => {
  server.define({ name: 'fixed-stored', ...base, aggregationPeriod: null, fixedPublication: true })
  const ask = async (measureName: string, period?: string) => {
    const response = await server.post(
      '/aggregate',
      { measureName, startDate: '2022-01-01', endDate: '2022-02-01', period },
      token,
    )
    return { status: response.status, body: await response.json() }
  }
  assert.is((await ask('fixed-chain')).status, 200)
  assert.equal(await ask('fixed-chain'), await ask('fixed-chain', 'day'))
  assert.equal(await ask('fixed-chain', 'week'), {
    status: 400,
    body: { error: 'period must be day for this measure, the only one it is published by' },
  })
  assert.equal(await ask('fixed-stored', 'day'), {
    status: 400,
    body: { error: 'period must be absent for this measure, which is published by its stored buckets only' },
  })
  const refused = await server.post(
    '/aggregate',
    { measureName: 'fixed-chain', startDate: '2022-01-01', endDate: '2022-02-01', wildcard: 'group1' },
    token,
  )
  assert.equal(await refused.json(), {
    error:
      'wildcard group1 is not registered for this measure, which is published with its registered wildcard sets only: group1,group2; group2',
  })
})

test('all the options together', async ({ server, token }) => {
  server.define({
    name: 'everything',
    ...base,
    withQuartiles: true,
    fixedPublication: true,
    thresholdOn: 'contributors',
    hideExtremes: true,
    noise: { epsilon: 1, valueMin: 0, valueMax: 100 },
  })
  server.deps.wildcards.register('everything', ['group1'])
  await postMeasures(
    server,
    token,
    'everything',
    MEASURES.map((measure, index) => ({ ...measure, contributor: `instance-${index % 40}` })),
  )
  const response = await server.post(
    '/aggregate',
    { measureName: 'everything', startDate: '2022-01-01', endDate: '2022-02-01', wildcard: 'group1' },
    token,
  )
  const rows = (await response.json()) as Row[]
  assert.is(response.status, 200)
  assert.ok(rows.length > 20 && rows.some((row) => row.group1.slug === '*'), `${rows.length} rows`)
  for (const row of rows) {
    // A noisy count may reach 0: there is no average then.
    const keys = [
      'contributors',
      'count',
      'countNotZero',
      'createdBy',
      'firstQuartile',
      'group1',
      'group2',
      'measureName',
      'median',
      'startDate',
      'std',
      'sum',
      'thirdQuartile',
    ]
    assert.equal(Object.keys(row), row.count > 0 ? ['avg', ...keys] : keys)
  }
})

test.run()
