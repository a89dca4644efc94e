import type Router from '@koa/router'
import { Ajv2020 } from 'ajv/dist/2020.js'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { aggregateParamsSchema } from '../../src/aggregates/schema.ts'
import { measureSchema } from '../../src/measures/schema.ts'
import { ajv as serverAjv } from '../../src/validation.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

// The parsed document is walked by key: typing each level would only restate the document.
// biome-ignore lint/suspicious/noExplicitAny: see above
type Json = any
type Context = { server: TestServer; token: string; doc: Json; validator: Ajv2020 }
const test = suite<Context>('GET /openapi.json', {} as Context)

const DOC = 'openapi.json'

/** A JSON pointer into the document, as a URI fragment (`/` and `~` escaped, then percent-encoded). */
const pointer = (...segments: string[]) =>
  `${DOC}#${segments.map((segment) => `/${encodeURIComponent(segment.replaceAll('~', '~0').replaceAll('/', '~1'))}`).join('')}`

test.before(async (context) => {
  context.server = await startTestServer()
  context.token = await context.server.token()
  const response = await fetch(`${context.server.url}/openapi.json`)
  assert.is(response.status, 200)
  assert.match(response.headers.get('content-type')!, /^application\/json/)
  context.doc = await response.json()
  // The document's own dialect (JSON Schema 2020-12), strict, with the API's formats taken from the server's ajv.
  context.validator = new Ajv2020({ strict: true, allErrors: true, allowUnionTypes: true })
  for (const [name, format] of Object.entries(serverAjv.formats)) context.validator.addFormat(name, format!)
  // The document is the root the schemas' $refs point into: its own fields are not schema keywords.
  context.validator.addVocabulary(Object.keys(context.doc))
  context.validator.addSchema(context.doc, DOC)
})
test.after(async ({ server }) => server.close())

/** Validates `value` against the schema at `segments`, reporting ajv's errors on failure. */
function check({ validator }: Context, value: unknown, segments: string[], expectValid = true) {
  const validate = validator.compile({ $ref: pointer(...segments) })
  const valid = validate(value)
  assert.is(valid, expectValid, `${segments.join(' > ')}: ${JSON.stringify(value)} ${JSON.stringify(validate.errors)}`)
}

/** The schema location of a documented response, following a shared response's $ref. */
function responseAt(
  { doc }: Context,
  path: string,
  method: string,
  status: number,
  type = 'application/json',
): string[] {
  const response = doc.paths[path][method].responses[status]
  assert.ok(response, `${method} ${path} documents ${status}`)
  const base = response.$ref ? response.$ref.slice(2).split('/') : ['paths', path, method, 'responses', String(status)]
  return [...base, 'content', type, 'schema']
}

/** Checks a real answer against the document: status documented, body of the documented schema. */
async function conforms(context: Context, path: string, method: string, response: Response): Promise<Json> {
  const body = await response.json()
  check(context, body, responseAt(context, path, method, response.status))
  return body
}

test('is OpenAPI 3.1 with the Bearer scheme, served without a token', ({ doc }) => {
  assert.is(doc.openapi, '3.1.0')
  assert.equal(doc.components.securitySchemes.bearer, {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: doc.components.securitySchemes.bearer.description,
  })
  assert.equal(doc.paths['/aggregate'].get.security, [{ bearer: [] }])
  assert.equal(doc.paths['/status'].get.security, [])
})

test('describes every route the app registers, and no other', ({ server, doc }) => {
  const routers = server.app.middleware
    .map((middleware) => (middleware as { router?: Router }).router)
    .filter((router) => router !== undefined)
  const registered = routers.flatMap((router) =>
    router.stack.flatMap((layer) =>
      layer.methods
        .filter((method) => method !== 'HEAD') // added by the router for every GET
        .map((method) => `${method} ${String(layer.path).replace(/:(\w+)/g, '{$1}')}`),
    ),
  )
  const documented = Object.entries(doc.paths as Record<string, object>).flatMap(([path, operations]) =>
    Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
  )
  assert.ok(registered.length >= 9, registered.join(', '))
  assert.equal(documented.sort(), registered.sort())
})

test('request schemas are the objects the routes validate with', ({ doc }) => {
  assert.equal(doc.components.schemas.Measure, JSON.parse(JSON.stringify(measureSchema)))
  assert.equal(doc.components.schemas.AggregateParams, JSON.parse(JSON.stringify(aggregateParamsSchema)))
  const parameters = doc.paths['/aggregate'].get.parameters as { name: string; required: boolean }[]
  assert.equal(
    parameters.map(({ name }) => name),
    Object.keys(aggregateParamsSchema.properties),
  )
  assert.equal(
    parameters.filter(({ required }) => required).map(({ name }) => name),
    aggregateParamsSchema.required,
  )
})

test('every example in the document validates against its schema', (context) => {
  let count = 0
  for (const [path, operations] of Object.entries(context.doc.paths as Json)) {
    for (const [method, operation] of Object.entries(operations as Json) as [string, Json][]) {
      const at = ['paths', path, method]
      for (const [index, parameter] of (operation.parameters ?? []).entries()) {
        if (!('example' in parameter)) continue
        check(context, parameter.example, [...at, 'parameters', String(index), 'schema'])
        count++
      }
      const bodies = [
        [['requestBody'], operation.requestBody],
        ...Object.entries(operation.responses).map(([status, response]) => [['responses', status], response]),
      ] as [string[], Json][]
      for (const [where, body] of bodies) {
        for (const [type, media] of Object.entries(body?.content ?? {}) as [string, Json][]) {
          for (const example of Object.values(media.examples ?? {}) as Json[]) {
            check(context, example.value, [...at, ...where, 'content', type, 'schema'])
            count++
          }
        }
      }
    }
  }
  assert.ok(count >= 12, `${count} examples`)
  const ndjson = context.doc.paths['/measures'].post.requestBody.content['application/x-ndjson'].examples.twoLines
    .value as string
  for (const line of ndjson.trim().split('\n')) check(context, JSON.parse(line), ['components', 'schemas', 'Measure'])
})

test('invalid requests are refused by the documented schemas', (context) => {
  const measure = ['components', 'schemas', 'Measure']
  const valid = { measureName: 'profile-count', value: 1, startDate: '2022-01-01' }
  for (const invalid of [
    { value: 1, startDate: '2022-01-01' },
    { ...valid, value: 'forty-two' },
    { ...valid, value: true },
    { ...valid, startDate: '2022-02-30' },
    { ...valid, startDate: 20220101 },
    { ...valid, createdBy: 5 },
    { ...valid, group1: { a: '1', b: '2' } },
    { ...valid, group2: { a: { nested: true } } },
  ]) {
    check(context, invalid, measure, false)
  }
  check(context, { ...valid, value: '-1.5e3', createdBy: null, group1: { slug: true } }, measure)
  check(
    context,
    [valid, { ...valid, value: null }],
    ['paths', '/measures', 'post', 'requestBody', 'content', 'application/json', 'schema'],
    false,
  )
  check(context, [], ['paths', '/measures', 'post', 'requestBody', 'content', 'application/json', 'schema'], false)

  const params = ['components', 'schemas', 'AggregateParams']
  const query = { measureName: 'connection-count-daily', startDate: '2022-01-01', endDate: '2022-02-01' }
  check(context, { ...query, wildcard: 'group1, group3', period: 'year' }, params)
  for (const invalid of [
    { startDate: '2022-01-01', endDate: '2022-02-01' },
    { ...query, endDate: 'tomorrow' },
    { ...query, period: 'quarter' },
    { ...query, wildcard: 'group4' },
    { ...query, wildcard: [3] },
  ]) {
    check(context, invalid, params, false)
  }
})

test('the example requests are accepted, and real answers match the documented responses', async (context) => {
  const { server, token, doc } = context
  server.define(
    {
      name: 'konnector-event-daily',
      group1Key: 'slug',
      group2Key: 'event_type',
      group3Key: 'status',
      aggregationThreshold: 1,
      accessApp: true,
    },
    { name: 'profile-count', aggregationThreshold: 1, accessApp: true, withQuartiles: true },
    { name: 'connection-count-daily', group1Key: 'device', aggregationThreshold: 1, accessPublic: true },
    { name: 'private-count', accessApp: false },
  )
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    server.post(path, body, token, headers)
  const get = (path: string, bearer = token) =>
    fetch(server.url + path, { headers: { Authorization: `Bearer ${bearer}` } })

  const measures = doc.paths['/measure'].post.requestBody.content['application/json'].examples
  for (const { value } of Object.values(measures) as Json[])
    assert.equal(await conforms(context, '/measure', 'post', await post('/measure', value)), { ok: true })
  const batch = doc.paths['/measures'].post.requestBody.content
  assert.equal(
    await conforms(
      context,
      '/measures',
      'post',
      await post('/measures', batch['application/json'].examples.twoMeasures.value),
    ),
    { ok: true, count: 3 },
  )
  const ndjson = await post('/measures', batch['application/x-ndjson'].examples.twoLines.value, {
    'Content-Type': 'application/x-ndjson',
  })
  assert.equal(await conforms(context, '/measures', 'post', ndjson), { ok: true, count: 2 })
  const devices = ['desktop', 'desktop', 'mobile'].map((device, index) => ({
    measureName: 'connection-count-daily',
    value: index + 1,
    startDate: '2022-01-03',
    createdBy: 'ecolyo',
    group1: { device },
  }))
  assert.is((await post('/measures', devices)).status, 201)

  const aggregates = doc.paths['/aggregate'].post.requestBody.content['application/json'].examples
  let rows = 0
  for (const { value } of Object.values(aggregates) as Json[])
    rows += (await conforms(context, '/aggregate', 'post', await post('/aggregate', value))).length
  const query = new URLSearchParams(
    Object.fromEntries(
      doc.paths['/aggregate'].get.parameters.map((parameter: Json) => [parameter.name, parameter.example]),
    ),
  )
  rows += (await conforms(context, '/aggregate', 'get', await get(`/aggregate?${query}`))).length
  const withQuartiles = await conforms(
    context,
    '/aggregate',
    'get',
    await get('/aggregate?measureName=profile-count&startDate=2022-01-01&endDate=2022-01-03'),
  )
  assert.ok(rows >= 4 && withQuartiles[0].median !== undefined, JSON.stringify(withQuartiles))

  const definitions = await conforms(context, '/definitions', 'get', await get('/definitions'))
  assert.equal(
    definitions.map((definition: Json) => definition.name),
    ['connection-count-daily', 'konnector-event-daily', 'profile-count'],
  )
  await conforms(context, '/status', 'get', await fetch(`${server.url}/status`))

  // Errors, shared responses included.
  assert.equal(await conforms(context, '/measure', 'post', await post('/measure', {})), {
    error: 'The measure cannot be empty',
  })
  const failing = await conforms(
    context,
    '/measures',
    'post',
    await post('/measures', [measures.noGroups.value, { measureName: 'profile-count' }]),
  )
  assert.equal(failing, { error: 'A value must be given', index: 1 })
  const refused = await get('/aggregate?measureName=private-count&startDate=2022-01-01&endDate=2022-01-02')
  assert.is(refused.status, 403)
  await conforms(context, '/aggregate', 'get', refused)
  const unauthorized = await get('/definitions', 'not-a-token')
  assert.is(unauthorized.headers.get('www-authenticate'), 'Bearer realm="Authentication Required"')
  assert.is(
    doc.components.responses.Unauthorized.headers['WWW-Authenticate'].description,
    'Bearer realm="Authentication Required"',
  )
  await conforms(context, '/definitions', 'get', unauthorized)
  await conforms(context, '/definitions', 'get', await get('/definitions', await server.token(['measure:write'])))
  await conforms(context, '/explorer/{file}', 'get', await fetch(`${server.url}/explorer/nope.js`))
})

test('answers shaped by privacy options match the documented row, and GET /definitions shows the options', async (context) => {
  const { server, token } = context
  const options = {
    group1Key: 'device',
    aggregationThreshold: 2,
    accessApp: true,
    withQuartiles: true,
    thresholdOn: 'contributors' as const,
    hideExtremes: true,
  }
  server.define(
    { name: 'private-contributors', ...options },
    {
      name: 'private-noisy',
      ...options,
      aggregationPeriod: 'day',
      noise: { epsilon: 1, valueMin: 0, valueMax: 10 },
      fixedPublication: true,
    },
  )
  server.deps.wildcards.register('private-noisy', ['group1'])
  for (const measureName of ['private-contributors', 'private-noisy']) {
    const measures = ['desktop', 'desktop', 'desktop', 'mobile', 'mobile', 'tablet'].map((device, index) => ({
      measureName,
      value: index + 1,
      startDate: '2022-01-03',
      group1: { device },
      contributor: `instance-${index}`,
    }))
    assert.is((await server.post('/measures', measures, token)).status, 201)
  }
  const ask = (measureName: string) =>
    server.post(
      '/aggregate',
      { measureName, startDate: '2022-01-01', endDate: '2022-02-01', period: 'day', wildcard: 'group1' },
      token,
    )
  for (const measureName of ['private-contributors', 'private-noisy']) {
    const rows = await conforms(context, '/aggregate', 'post', await ask(measureName))
    assert.ok(
      rows.length >= 2 && rows.some((row: Json) => row.group1.device === '*'),
      `${measureName}: ${JSON.stringify(rows)}`,
    )
    for (const row of rows) assert.ok('contributors' in row && !('min' in row) && !('max' in row), JSON.stringify(row))
  }
  // A noisy count may reach 0, which has no average.
  const noisyZero = {
    contributors: 0,
    count: 0,
    countNotZero: 0,
    group1: { device: 'tablet' },
    measureName: 'private-noisy',
    startDate: '2022-01-03T00:00:00',
    std: 0,
    sum: -0.42,
  }
  check(context, noisyZero, ['components', 'schemas', 'AggregateRow'])
  const definitions = await conforms(
    context,
    '/definitions',
    'get',
    await fetch(`${server.url}/definitions`, { headers: { Authorization: `Bearer ${token}` } }),
  )
  assert.equal(
    definitions.find((definition: Json) => definition.name === 'private-noisy'),
    {
      name: 'private-noisy',
      group1Key: 'device',
      aggregationPeriod: 'day',
      aggregationThreshold: 2,
      withQuartiles: true,
      thresholdOn: 'contributors',
      hideExtremes: true,
      noise: { epsilon: 1, valueMin: 0, valueMax: 10 },
      fixedPublication: true,
    },
  )
})

test.run()
