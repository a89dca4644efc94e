import http from 'node:http'
import net from 'node:net'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ConfigError, loadConfig } from '../../src/config.ts'
import { createLogger } from '../../src/logger.ts'
import { REFUSAL_REASONS } from '../../src/measures/refusals.ts'
import { startServer } from '../../src/server.ts'
import { moved, scrape } from '../helpers/metrics.ts'
import { freePort } from '../helpers/ports.ts'
import { startTestServer, testConfig, type TestServer } from '../helpers/server.ts'

type Context = { server: TestServer; metricsUrl: string }
const test = suite<Context>('GET /metrics', {} as Context)

const A = 'metrics-a'
const B = 'metrics-b'
const measure = (measureName: string, extra: Record<string, unknown> = {}) => ({
  measureName,
  value: 1,
  startDate: '2022-01-01',
  group1: { device: 'desktop' },
  ...extra,
})

test.before(async (context) => {
  // A read cache that stays current for a minute: a repeated question is answered without a query.
  context.server = await startTestServer({
    metrics: { port: await freePort() },
    aggregate: { maxStalenessMs: 60_000 },
    ingest: { maxBatchDelayMs: 5, maxMeasuresPerRequest: 5 },
  })
  context.metricsUrl = context.server.metricsUrl!
  context.server.define(
    { name: A, group1Key: 'device', aggregationThreshold: 1, accessApp: true },
    { name: B, group1Key: 'device', aggregationThreshold: 1, accessApp: true },
  )
})

test.after(async ({ server }) => {
  await server?.close()
})

test('answers on its own listener (metrics.port), never on the API port', async ({ server, metricsUrl }) => {
  const metricsPort = new URL(metricsUrl).port
  assert.is(metricsUrl, `http://127.0.0.1:${server.config.metrics.port}/metrics`)
  assert.is.not(metricsPort, new URL(server.url).port)
  const onApi = await fetch(`${server.url}/metrics`)
  assert.is(onApi.status, 404)
  const response = await fetch(metricsUrl)
  assert.is(response.status, 200)
  assert.match(response.headers.get('content-type')!, /^text\/plain; version=0\.0\.4/)
  assert.match(await response.text(), /^# HELP dacc_http_requests_total /m)
  // The API is not on the metrics listener either.
  assert.is((await fetch(`http://127.0.0.1:${metricsPort}/status`)).status, 404)
  assert.is((await fetch(metricsUrl, { method: 'POST' })).status, 405)
})

test('counters move by exactly the requests sent', async ({ server, metricsUrl }) => {
  const before = await scrape(metricsUrl)
  const writer = await server.token(['measure:write'])
  const reader = await server.token(['aggregate:read'])
  const statuses: number[] = []
  const send = async (route: string, body: unknown, token?: string, headers?: Record<string, string>) =>
    statuses.push((await server.post(route, body, token, headers)).status)

  for (let i = 0; i < 3; i++) await send('/measure', measure(A), writer)
  await send('/measures', [measure(A), measure(A), measure(A), measure(B)], writer)
  // A retry: stored once, the second sending deduplicated.
  await send('/measure', measure(A), writer, { 'Idempotency-Key': 'retry-1' })
  await send('/measure', measure(A), writer, { 'Idempotency-Key': 'retry-1' })
  // One refusal per reason.
  await send('/measure', {}, writer)
  await send('/measure', measure('no-such-measure'), writer)
  await send('/measure', { measureName: A, startDate: '2022-01-01', group1: { device: 'desktop' } }, writer)
  await send('/measure', measure(A, { group1: { os: 'linux' } }), writer)
  await send('/measure', '{"measureName": ', writer)
  await send('/measure', measure(A), writer, { 'Content-Type': 'text/plain' })
  await send('/measure', measure(A), writer, { 'Idempotency-Key': 'not allowed' })
  await send(
    '/measures',
    Array.from({ length: 6 }, () => measure(A)),
    writer,
  )
  // Auth refusals.
  await send('/measure', measure(A))
  await send('/measure', measure(A), 'not.a.token')
  await send('/measure', measure(A), reader)
  const definitions = await fetch(`${server.url}/definitions`, { headers: { Authorization: `Bearer ${writer}` } })
  // The same question twice: the first reads ClickHouse, the second the cache.
  const question = { measureName: A, startDate: '2022-01-01', endDate: '2022-02-01' }
  await send('/aggregate', question, reader)
  await send('/aggregate', question, reader)
  assert.equal(
    statuses,
    [201, 201, 201, 201, 201, 201, 400, 400, 400, 400, 400, 415, 400, 413, 401, 401, 403, 200, 200],
  )
  assert.is(definitions.status, 403)
  await server.settled()
  const after = await scrape(metricsUrl)
  const delta = (name: string, labels?: Record<string, string>) => moved(before, after, name, labels)

  assert.is(delta('dacc_measures_accepted_total', { measure: A }), 7)
  assert.is(delta('dacc_measures_accepted_total', { measure: B }), 1)
  assert.is(delta('dacc_measures_deduplicated_total'), 1)
  const refused = Object.fromEntries(
    REFUSAL_REASONS.map((reason) => [reason, delta('dacc_measure_requests_refused_total', { reason })]),
  )
  const once = [
    'empty',
    'unknown_measure',
    'value',
    'groups',
    'malformed',
    'media_type',
    'idempotency_key',
    'too_large',
  ]
  assert.equal(refused, Object.fromEntries(REFUSAL_REASONS.map((reason) => [reason, once.includes(reason) ? 1 : 0])))
  assert.is(delta('dacc_auth_refusals_total', { reason: 'no_token' }), 1)
  assert.is(delta('dacc_auth_refusals_total', { reason: 'invalid_token' }), 1)
  assert.is(delta('dacc_auth_refusals_total', { reason: 'scope' }), 2)

  const requests = (method: string, route: string, status: string) =>
    delta('dacc_http_requests_total', { method, route, status })
  assert.is(requests('POST', '/measure', '201'), 5)
  assert.is(requests('POST', '/measures', '201'), 1)
  assert.is(requests('POST', '/measure', '400'), 6)
  assert.is(requests('POST', '/measure', '415'), 1)
  assert.is(requests('POST', '/measures', '413'), 1)
  assert.is(requests('POST', '/measure', '401'), 2)
  assert.is(requests('POST', '/measure', '403'), 1)
  assert.is(requests('GET', '/definitions', '403'), 1)
  assert.is(requests('POST', '/aggregate', '200'), 2)
  assert.is(delta('dacc_http_request_duration_seconds_count', { method: 'POST', route: '/measure' }), 15)
  assert.is(delta('dacc_http_request_duration_seconds_bucket', { method: 'POST', route: '/measure', le: '+Inf' }), 15)

  assert.is(delta('dacc_aggregate_answers_total', { source: 'engine' }), 1)
  assert.is(delta('dacc_aggregate_answers_total', { source: 'cache' }), 1)
  assert.is(delta('dacc_engine_query_duration_seconds_count', { query: 'stats' }), 1)
  assert.is(delta('dacc_engine_query_duration_seconds_count', { query: 'month_counts' }), 0)

  // Sent one after the other, each accepted request is a journal append of its own.
  assert.is(delta('dacc_journal_append_duration_seconds_count'), 5)
  assert.is(delta('dacc_journal_append_failures_total'), 0)
  assert.is(delta('dacc_load_segment_measures_sum'), 8)
  assert.is(delta('dacc_load_failures_total'), 0)
  assert.ok(delta('dacc_load_duration_seconds_count') >= 1)
  assert.is(after.value('dacc_write_backlog_measures'), 0)
  assert.is(after.value('dacc_write_backlog_limit_measures'), server.config.ingest.maxQueuedRows)
})

test('no label carries a token, a value or any text a client sent', async ({ server, metricsUrl }) => {
  const writer = await server.token(['measure:write'])
  const secrets = {
    createdBy: 'created-by-secret',
    group: 'group-value-secret',
    value: 8675309.5,
    measure: 'unknown-measure-secret',
    groupKey: 'group-key-secret',
    idempotencyKey: 'idempotency-key-secret',
    requestId: 'request-id-secret',
    contributor: 'contributor-secret',
  }
  const headers = { 'Idempotency-Key': secrets.idempotencyKey, 'X-Request-Id': secrets.requestId }
  const sent = [
    await server.post(
      '/measure',
      measure(A, {
        value: secrets.value,
        createdBy: secrets.createdBy,
        group1: { device: secrets.group },
        contributor: secrets.contributor,
      }),
      writer,
      headers,
    ),
    await server.post('/measure', measure(secrets.measure), writer),
    await server.post('/measure', measure(A, { group1: { [secrets.groupKey]: 'x' } }), writer),
    await server.post('/path-secret?query=query-secret', {}, writer),
    await server.post('/measure', measure(A), `${writer}x`),
  ]
  assert.equal(
    sent.map((response) => response.status),
    [201, 400, 400, 404, 401],
  )
  await server.settled()
  const { text, samples } = await scrape(metricsUrl)
  for (const secret of [...Object.values(secrets).map(String), '8675309', 'path-secret', 'query-secret', writer]) {
    assert.not.ok(text.includes(secret), `the scrape holds ${secret}`)
  }
  // Every label value of ours comes from a fixed list, a route pattern or a definition's name.
  const allowed: Record<string, (value: string) => boolean> = {
    method: (value) => http.METHODS.includes(value),
    route: (value) =>
      [
        '/measure',
        '/measures',
        '/aggregate',
        '/definitions',
        '/status',
        '/',
        '/explorer/:file',
        '/openapi.json',
        'unmatched',
      ].includes(value),
    status: (value) => /^[1-5]\d\d$/.test(value),
    measure: (value) => [A, B].includes(value),
    reason: (value) => [...REFUSAL_REASONS, 'no_token', 'invalid_token', 'scope'].includes(value),
    source: (value) => ['cache', 'engine'].includes(value),
    query: (value) => ['stats', 'month_counts'].includes(value),
    outcome: (value) => ['ok', 'failed'].includes(value),
    class: (value) => ['transient', 'permanent', 'unknown'].includes(value),
    le: (value) => value === '+Inf' || Number.isFinite(Number(value)),
  }
  for (const sample of samples.filter(({ name }) => name.startsWith('dacc_'))) {
    for (const [label, value] of Object.entries(sample.labels)) {
      assert.ok(allowed[label]?.(value), `${sample.name}{${label}="${value}"}`)
    }
  }
})

test.run()

// One embedded data directory per process at a time: these start servers of their own, after the one above.
const listener = suite('the metrics listener')

listener('closed with the server', async () => {
  const server = await startTestServer({ metrics: { port: await freePort() } })
  assert.is((await fetch(server.metricsUrl!)).status, 200)
  await server.close()
  const refused = await fetch(server.metricsUrl!).then(
    () => undefined,
    (err: Error & { cause?: { code?: string } }) => err.cause?.code,
  )
  assert.is(refused, 'ECONNREFUSED')
})

listener('metrics.port 0: no listener; the API port, or a port in use: refused with the key named', async () => {
  const off = await startTestServer()
  try {
    assert.is(off.metricsUrl, undefined)
    assert.is(off.config.metrics.port, 0)
  } finally {
    await off.close()
  }
  assert.throws(
    () => loadConfig({ env: { DACC_PORT: '7000', DACC_METRICS_PORT: '7000' } }),
    (err: Error) => err instanceof ConfigError && /metrics\.port: must differ from port/.test(err.message),
  )
  assert.is(loadConfig({ env: {} }).metrics.port, 9464)
  const taken = net.createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  const { port } = taken.address() as net.AddressInfo
  try {
    const config = testConfig({ metrics: { port } })
    const failed = await startServer(config, createLogger('silent')).then(
      () => undefined,
      (err: Error) => err,
    )
    assert.is(
      String(failed?.message),
      `cannot listen on 127.0.0.1:${port} for metrics (metrics.host, metrics.port; port 0 turns them off): the port is in use`,
    )
  } finally {
    taken.close()
  }
})

listener.run()
