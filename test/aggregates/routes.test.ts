import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startTestServer, type TestServer } from '../helpers/server.ts'
import { expectedFields } from './stats.ts'

type Context = { server: TestServer; token: string }
const test = suite<Context>('GET and POST /aggregate', {} as Context)

test.before(async (context) => {
  context.server = await startTestServer()
  context.token = await context.server.token(['measure:write', 'aggregate:read'])
})
test.after(async ({ server }) => server.close())

type Via = 'GET' | 'POST'
type Params = Record<string, unknown>

/** GET puts the parameters in the query string (a list as a repeated key), POST in a JSON body. */
function send(
  { server, token }: Context,
  via: Via,
  params: unknown,
  authorization = `Bearer ${token}`,
): Promise<Response> {
  if (via === 'POST') return server.post('/aggregate', params, undefined, { Authorization: authorization })
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params as Params))
    for (const item of [value].flat()) search.append(key, String(item))
  return fetch(`${server.url}/aggregate?${search}`, { headers: { Authorization: authorization } })
}

async function aggregate(context: Context, params: Params, via: Via = 'POST'): Promise<Params[]> {
  const response = await send(context, via, params)
  const body = (await response.json()) as Params[]
  assert.is(response.status, 200, `${via} ${JSON.stringify(params)}: ${JSON.stringify(body)}`)
  return body
}

/** Posts measures concurrently, each `[startDate, value, extra fields]`. */
async function measure({ server, token }: Context, measureName: string, rows: [string, number, Params?][]) {
  const responses = await Promise.all(
    rows.map(([startDate, value, extra]) =>
      server.post('/measure', { measureName, startDate, value, ...extra }, token),
    ),
  )
  assert.equal(new Set(responses.map((response) => response.status)), new Set([201]))
}

const BOTH: Via[] = ['GET', 'POST']

test('each invalid request gets its message, in the original order, by GET and by POST', async (context) => {
  context.server.define(
    { name: 'agg-errors', group1Key: 'slug', accessApp: true },
    { name: 'agg-private', accessApp: false, accessPublic: false },
  )
  const valid = { measureName: 'agg-errors', startDate: '2022-01-01', endDate: '2022-01-02' }
  const cases: [unknown, number, string, Via[]][] = [
    [{}, 400, 'The params cannot be empty', BOTH],
    [[], 400, 'The params cannot be empty', ['POST']],
    [{ startDate: '2022-01-01', endDate: 'x' }, 400, 'A measure name must be given', BOTH],
    [{ measureName: 'nope', startDate: 'x' }, 400, 'No measure definition found for: nope', BOTH],
    [{ measureName: ['a', 'b'], startDate: 'x' }, 400, 'No measure definition found for: a,b', BOTH],
    [
      { measureName: 'agg-private', startDate: 'x' },
      403,
      'You cannot access results for this measure: agg-private',
      BOTH,
    ],
    [{ measureName: 'agg-errors', endDate: 'x', period: 'x' }, 400, 'startDate must be given', BOTH],
    [
      { measureName: 'agg-errors', startDate: '2022-02-30' },
      400,
      'startDate type is incorrect, it must be a date',
      BOTH,
    ],
    [
      { measureName: 'agg-errors', startDate: 20220101 },
      400,
      'startDate type is incorrect, it must be a date',
      ['POST'],
    ],
    [{ measureName: 'agg-errors', startDate: '2022-01-01', wildcard: 'x' }, 400, 'endDate must be given', BOTH],
    [{ ...valid, endDate: 'tomorrow' }, 400, 'endDate type is incorrect, it must be a date', BOTH],
    [
      { ...valid, period: 'quarter', wildcard: 'x', createdBy: 5 },
      400,
      'period must be one of day, week, month, year',
      ['POST'],
    ],
    [{ ...valid, period: '' }, 400, 'period must be one of day, week, month, year', BOTH],
    [
      { ...valid, wildcard: 'group9' },
      400,
      'wildcard group is unknown: group9, it must be one of group1, group2, group3',
      BOTH,
    ],
    [
      { ...valid, wildcard: ['group1', 'slug'] },
      400,
      'wildcard group is unknown: slug, it must be one of group1, group2, group3',
      BOTH,
    ],
    [{ ...valid, wildcard: 'group1,group2' }, 400, 'wildcard group does not match measure definition: group2', BOTH],
    [
      { ...valid, wildcard: 3, createdBy: 5 },
      400,
      'wildcard type is incorrect, it must be group names, comma-separated or in a list',
      ['POST'],
    ],
    [
      { ...valid, wildcard: { group1: true } },
      400,
      'wildcard type is incorrect, it must be group names, comma-separated or in a list',
      ['POST'],
    ],
    [{ ...valid, createdBy: 5 }, 400, 'createdBy type is incorrect, it must be a string', ['POST']],
    [{ ...valid, createdBy: ['a', 'b'] }, 400, 'createdBy type is incorrect, it must be a string', BOTH],
  ]
  for (const [params, status, error, vias] of cases) {
    for (const via of vias) {
      const response = await send(context, via, params)
      assert.equal(
        { status: response.status, body: await response.json() },
        { status, body: { error } },
        `${via} ${JSON.stringify(params)}`,
      )
    }
  }
})

test('a missing token gets 401, a token without aggregate:read 403, malformed JSON 400', async (context) => {
  const params = { measureName: 'agg-errors', startDate: '2022-01-01', endDate: '2022-01-02' }
  for (const via of BOTH) {
    const response = await send(context, via, params, '')
    assert.is(response.status, 401)
    assert.is(response.headers.get('www-authenticate'), 'Bearer realm="Authentication Required"')
    assert.equal(await response.json(), { error: 'Unauthorized Access' })
  }
  const writer = await context.server.token(['measure:write'])
  const refused = await send(context, 'GET', params, `Bearer ${writer}`)
  assert.equal(
    { status: refused.status, body: await refused.json() },
    { status: 403, body: { error: 'This token does not have the aggregate:read scope' } },
  )
  const malformed = await context.server.post('/aggregate', '{"measureName": ', context.token)
  assert.equal(
    { status: malformed.status, body: await malformed.json() },
    { status: 400, body: { error: 'Malformed JSON body' } },
  )
})

test('statistics of a bucket, keys sorted, no quartiles unless defined, threshold inclusive and read live', async (context) => {
  context.server.define({ name: 'agg-devices', group1Key: 'device', aggregationThreshold: 3, accessApp: true })
  await measure(context, 'agg-devices', [
    ['2022-01-01', 0, { createdBy: 'ecolyo', group1: { device: 'desktop' } }],
    ['2022-01-01', 50, { createdBy: 'ecolyo', group1: { device: 'desktop' } }],
    ['2022-01-01', 100, { createdBy: 'ecolyo', group1: { device: 'desktop' } }],
    ['2022-01-01', 10, { createdBy: 'ecolyo', group1: { device: 'mobile' } }],
    ['2022-01-01', 20, { createdBy: 'ecolyo', group1: { device: 'mobile' } }],
  ])
  const params = { measureName: 'agg-devices', startDate: '2022-01-01', endDate: '2022-01-02' }
  const desktop = {
    avg: 50,
    count: 3,
    countNotZero: 2,
    createdBy: 'ecolyo',
    group1: { device: 'desktop' },
    max: 100,
    measureName: 'agg-devices',
    min: 0,
    startDate: '2022-01-01T00:00:00',
    std: 50,
    sum: 150,
  }
  for (const via of BOTH) {
    const rows = await aggregate(context, params, via)
    assert.equal(rows, [desktop], via) // mobile has 2 measures, under the threshold of 3
    assert.equal(Object.keys(rows[0]), Object.keys(desktop), 'keys in alphabetical order')
  }
  context.server.define({ name: 'agg-devices', group1Key: 'device', aggregationThreshold: 2, accessApp: true })
  const mobile = {
    ...desktop,
    avg: 15,
    count: 2,
    countNotZero: 2,
    group1: { device: 'mobile' },
    max: 20,
    min: 10,
    std: 7.07,
    sum: 30,
  }
  assert.equal(await aggregate(context, params), [desktop, mobile])
  context.server.define({ name: 'agg-devices', group1Key: 'device', aggregationThreshold: 4, accessApp: true })
  assert.equal(await aggregate(context, params), [])
})

test('startDate is inclusive, endDate exclusive, both to the second; stored buckets keep their time', async (context) => {
  context.server.define({ name: 'agg-dates', aggregationThreshold: 1, accessApp: true })
  await measure(context, 'agg-dates', [
    ['2022-01-01', 1],
    ['2022-01-01T12:00:00', 2],
    ['2022-01-02', 4],
    ['2022-01-03T00:00:00', 8],
  ])
  const sums = async (params: Params, via: Via = 'POST') =>
    (await aggregate(context, { measureName: 'agg-dates', ...params }, via)).map((row) => [row.startDate, row.sum])
  for (const via of BOTH) {
    assert.equal(await sums({ startDate: '2022-01-01', endDate: '2022-01-03' }, via), [
      ['2022-01-01T00:00:00', 1],
      ['2022-01-01T12:00:00', 2],
      ['2022-01-02T00:00:00', 4],
    ])
  }
  assert.equal(await sums({ startDate: '2022-01-01T12:00:00', endDate: '2022-01-02' }), [['2022-01-01T12:00:00', 2]])
  assert.equal(await sums({ startDate: '2022-01-01', endDate: '2022-01-01T12:00:00' }), [['2022-01-01T00:00:00', 1]])
  assert.equal(await sums({ startDate: '2022-01-03', endDate: '2022-01-01' }), [])
  // A range may reach beyond the dates ClickHouse holds: it just means "from the start" / "to the end".
  assert.equal((await sums({ startDate: '1900-01-01', endDate: '2500-01-01' })).length, 4)
  assert.equal(await sums({ startDate: '2022-01-01', endDate: '2022-01-03', period: 'day' }), [
    ['2022-01-01T00:00:00', 3],
    ['2022-01-02T00:00:00', 4],
  ])
})

test('createdBy filters, "" meaning measures sent without one; rows are ordered by createdBy', async (context) => {
  context.server.define({ name: 'agg-apps', aggregationThreshold: 1, accessApp: true })
  await measure(context, 'agg-apps', [
    ['2022-01-01', 1, { createdBy: 'b' }],
    ['2022-01-01', 2, { createdBy: 'a' }],
    ['2022-01-01', 4],
  ])
  const sums = async (params: Params, via: Via = 'POST') =>
    (
      await aggregate(
        context,
        { measureName: 'agg-apps', startDate: '2022-01-01', endDate: '2022-01-02', ...params },
        via,
      )
    ).map((row) => [row.createdBy, row.sum])
  assert.equal(await sums({}), [
    [undefined, 4],
    ['a', 2],
    ['b', 1],
  ])
  assert.equal(await sums({ createdBy: null }), [
    [undefined, 4],
    ['a', 2],
    ['b', 1],
  ])
  for (const via of BOTH) {
    assert.equal(await sums({ createdBy: 'b' }, via), [['b', 1]])
    assert.equal(await sums({ createdBy: '' }, via), [[undefined, 4]])
    assert.equal(await sums({ createdBy: 'nobody' }, via), [])
  }
})

test('period day/week/month/year: statistics over the union of the stored buckets, thresholded after merging', async (context) => {
  context.server.define({
    name: 'agg-periods',
    group1Key: 'slug',
    aggregationThreshold: 2,
    accessApp: true,
    withQuartiles: true,
  })
  const values: Record<string, number[]> = {
    '2021-12-30': [1, 2, 3], // Thursday
    '2021-12-31T18:00:00': [4, 5.5],
    '2022-01-01': [6, 0], // Saturday
    '2022-01-01T07:00:00': [3.25],
    '2022-01-03T08:30:00': [7, 9, 11], // Monday
    '2022-01-04': [2],
  }
  await measure(context, 'agg-periods', [
    ...Object.entries(values).flatMap(([date, list]) =>
      list.map((value): [string, number, Params] => [date, value, { group1: { slug: 'a' } }]),
    ),
    // One a day: under the threshold each day, over it for their week only.
    ['2021-12-31', 100, { group1: { slug: 'b' } }],
    ['2022-01-01', 200, { group1: { slug: 'b' } }],
  ])
  const union = (...dates: string[]) => dates.flatMap((date) => values[date])
  const row = (startDate: string, slug: string, list: number[]) => ({
    ...expectedFields(list, true),
    group1: { slug },
    measureName: 'agg-periods',
    startDate: `${startDate}T00:00:00`,
  })
  const expected: Record<string, Params[]> = {
    day: [
      row('2021-12-30', 'a', values['2021-12-30']),
      row('2021-12-31', 'a', values['2021-12-31T18:00:00']),
      row('2022-01-01', 'a', union('2022-01-01', '2022-01-01T07:00:00')),
      row('2022-01-03', 'a', values['2022-01-03T08:30:00']),
    ],
    week: [
      row('2021-12-27', 'a', union('2021-12-30', '2021-12-31T18:00:00', '2022-01-01', '2022-01-01T07:00:00')),
      row('2021-12-27', 'b', [100, 200]),
      row('2022-01-03', 'a', union('2022-01-03T08:30:00', '2022-01-04')),
    ],
    month: [
      row('2021-12-01', 'a', union('2021-12-30', '2021-12-31T18:00:00')),
      row('2022-01-01', 'a', union('2022-01-01', '2022-01-01T07:00:00', '2022-01-03T08:30:00', '2022-01-04')),
    ],
  }
  expected.year = [{ ...expected.month[0], startDate: '2021-01-01T00:00:00' }, expected.month[1]]
  const params = { measureName: 'agg-periods', startDate: '2021-12-30', endDate: '2022-01-05' }
  for (const [period, rows] of Object.entries(expected)) {
    for (const via of BOTH)
      assert.equal(await aggregate(context, { ...params, period }, via), rows, `${period} by ${via}`)
  }
  // The range still selects stored buckets: this week is labelled before startDate but holds only what is in range.
  assert.equal(await aggregate(context, { ...params, startDate: '2022-01-01', period: 'week' }), [
    row('2021-12-27', 'a', union('2022-01-01', '2022-01-01T07:00:00')),
    expected.week[2],
  ])
})

test('std is 0 for a single value; decimals round half away from zero, quartiles as the original stored them; exact quartiles interpolate', async (context) => {
  context.server.define({ name: 'agg-single', aggregationThreshold: 1, accessApp: true, withQuartiles: true })
  await measure(context, 'agg-single', [
    ['2022-01-01', 1.125],
    ['2022-01-02', -1.125],
    ...[1, 2, 3, 4].map((value): [string, number] => ['2022-01-03', value]),
  ])
  // Quartiles: percentile_cont's float as '%.2f' (src/aggregates/format.ts), ties to even.
  const single = (startDate: string, value: number, quartile: number) => ({
    avg: value,
    count: 1,
    countNotZero: 1,
    firstQuartile: quartile,
    max: value,
    measureName: 'agg-single',
    median: quartile,
    min: value,
    startDate,
    std: 0,
    sum: value,
    thirdQuartile: quartile,
  })
  assert.equal(
    await aggregate(context, { measureName: 'agg-single', startDate: '2022-01-01', endDate: '2022-01-04' }),
    [
      single('2022-01-01T00:00:00', 1.13, 1.12),
      single('2022-01-02T00:00:00', -1.13, -1.12),
      {
        avg: 2.5,
        count: 4,
        countNotZero: 4,
        firstQuartile: 1.75,
        max: 4,
        measureName: 'agg-single',
        median: 2.5,
        min: 1,
        startDate: '2022-01-03T00:00:00',
        std: 1.29,
        sum: 10,
        thirdQuartile: 3.25,
      },
    ],
  )
})

test('wildcard rows: rolled-up groups read "*", obey the threshold, never mix with a real empty value, and give no hidden row away', async (context) => {
  context.server.define({
    name: 'agg-wildcards',
    group1Key: 'slug',
    group2Key: 'status',
    aggregationThreshold: 2,
    accessApp: true,
  })
  const at = (slug: string, status: string, value: number): [string, number, Params] => [
    '2022-01-01',
    value,
    { createdBy: 'c', group1: { slug }, group2: { status } },
  ]
  await measure(context, 'agg-wildcards', [
    at('enedis', 'ok', 1),
    at('enedis', 'ok', 2),
    at('enedis', 'ko', 3),
    at('grdf', 'ko', 4),
    at('', 'ok', 5),
    at('', 'ok', 6),
  ])
  const params = { measureName: 'agg-wildcards', startDate: '2022-01-01', endDate: '2022-01-02' }
  const row = (slug: string, status: string, values: number[]) => ({
    ...expectedFields(values, false),
    createdBy: 'c',
    group1: { slug },
    group2: { status },
    measureName: 'agg-wildcards',
    startDate: '2022-01-01T00:00:00',
  })
  const detailed = [row('', 'ok', [5, 6]), row('enedis', 'ok', [1, 2])]
  assert.equal(await aggregate(context, params), detailed)
  for (const via of BOTH) {
    // grdf's rollup holds 1 measure: under the threshold. (enedis, ok) is shown without a rollup,
    // but not beside (enedis, *): the difference would be the hidden (enedis, ko).
    assert.equal(await aggregate(context, { ...params, wildcard: 'group2' }, via), [
      row('', 'ok', [5, 6]),
      row('', '*', [5, 6]),
      row('enedis', '*', [1, 2, 3]),
    ])
    // (*, ko) holds two hidden rows, known only as their sum.
    assert.equal(await aggregate(context, { ...params, wildcard: 'group1' }, via), [
      ...detailed,
      row('*', 'ko', [3, 4]),
      row('*', 'ok', [1, 2, 5, 6]),
    ])
  }
  // Likewise (*, *) minus the shown rows is the two hidden ones together.
  const both = [...detailed, row('*', '*', [1, 2, 3, 4, 5, 6])]
  assert.equal(await aggregate(context, { ...params, wildcard: ['group2', 'group1'] }), both)
  assert.equal(await aggregate(context, { ...params, wildcard: 'group1, group2' }, 'GET'), both)
  assert.equal(await aggregate(context, { ...params, wildcard: ['group1', 'group2'] }, 'GET'), both)
  assert.equal(await aggregate(context, { ...params, wildcard: [] }), detailed)
  assert.equal(await aggregate(context, { ...params, wildcard: '' }, 'GET'), detailed)
})

test('registered wildcard sets: added to every answer for their date range, changes seen at once', async (context) => {
  const { server } = context
  server.define({
    name: 'agg-registered',
    group1Key: 'slug',
    group2Key: 'status',
    aggregationThreshold: 2,
    accessApp: true,
  })
  await measure(
    context,
    'agg-registered',
    ['2022-01-01', '2022-01-02', '2022-01-03'].flatMap((date): [string, number, Params][] => [
      [date, 1, { group1: { slug: 'enedis' }, group2: { status: 'ok' } }],
      [date, 2, { group1: { slug: 'enedis' }, group2: { status: 'ko' } }],
    ]),
  )
  const params = { measureName: 'agg-registered', startDate: '2022-01-01', endDate: '2022-01-04' }
  const answer = async (extra: Params = {}) =>
    (await aggregate(context, { ...params, ...extra })).map((row) => [row.startDate, row.group1, row.group2, row.count])
  const rollup = (date: string, slug = 'enedis') => [`${date}T00:00:00`, { slug }, { status: '*' }, 2]
  assert.equal(await answer(), []) // every detailed group holds 1 measure a day

  server.deps.wildcards.register('agg-registered', ['group2'], { fromDate: '2022-01-02' })
  assert.equal(await answer(), [rollup('2022-01-02'), rollup('2022-01-03')])
  // The request's own wildcard covers the whole range.
  assert.equal(await answer({ wildcard: 'group2' }), [rollup('2022-01-01'), rollup('2022-01-02'), rollup('2022-01-03')])
  // The range applies to the merged buckets' labels: the week of 2021-12-27 starts before it.
  const week = (status: string) => ['2021-12-27T00:00:00', { slug: 'enedis' }, { status }, 2]
  assert.equal(await answer({ period: 'week' }), [week('ko'), week('ok'), rollup('2022-01-03')])

  server.deps.wildcards.register('agg-registered', ['group2'], { toDate: '2022-01-02' })
  assert.equal(await answer(), [rollup('2022-01-01')])

  // group3 is not a group of this measure: rolling it up changes nothing, so it is left out.
  server.deps.wildcards.remove('agg-registered', ['group2'])
  server.deps.wildcards.register('agg-registered', ['group3'])
  assert.equal(await answer(), [])
  server.deps.wildcards.register('agg-registered', ['group2', 'group3'], { fromDate: '2022-01-03' })
  assert.equal(await answer(), [rollup('2022-01-03')])
  server.deps.wildcards.remove('agg-registered', ['group3', 'group2'])
  server.deps.wildcards.remove('agg-registered', ['group3'])
  assert.equal(await answer(), [])
})

test.run()
