import http from 'node:http'
import zlib from 'node:zlib'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ask, assertError, logLine, startSqlServer, type SqlServer } from '../helpers/sql.ts'

const test = suite<SqlServer>('SQL interface: ClickHouse HTTP protocol (curl)', {} as SqlServer)

test.before(async (context) => {
  Object.assign(context, await startSqlServer())
})
test.after(async ({ server }) => server?.close())

test('GET /ping and GET / answer Ok., as ClickHouse does, without a token; another path is 404', async ({ url }) => {
  for (const target of [`${url}ping`, url]) {
    const response = await fetch(target)
    assert.is(response.status, 200)
    assert.is(await response.text(), 'Ok.\n')
  }
  assert.is((await fetch(`${url}play`)).status, 404)
})

test('the query in the URL (curl), the body, or both; TabSeparated unless default_format, X-ClickHouse-Format or FORMAT say otherwise', async ({
  url,
  tokens,
}) => {
  const token = tokens.raw
  assert.is((await ask(url, 'SELECT 1, 2', { token })).text, '1\t2\n')
  assert.is((await ask(url, undefined, { token, body: 'SELECT 3' })).text, '3\n')
  assert.is((await ask(url, 'SELECT', { token, body: '4 AS four' })).text, '4\n', 'URL, then the body on a new line')
  assert.is((await ask(url, 'SELECT 5 AS x', { token, search: { default_format: 'JSONEachRow' } })).text, '{"x":5}\n')
  assert.is(
    (await ask(url, 'SELECT 6 AS x', { token, headers: { 'X-ClickHouse-Format': 'CSVWithNames' } })).text,
    '"x"\n6\n',
  )
  const clause = await ask(url, 'SELECT 7 AS x FORMAT JSONCompactEachRow', { token, search: { default_format: 'CSV' } })
  assert.is(clause.text, '[7]\n')
  assert.is(clause.headers.get('x-clickhouse-format'), 'JSONCompactEachRow')
  // 64-bit integers quoted in JSON, as a ClickHouse server does (the embedded engine does not by default).
  assert.is((await ask(url, 'SELECT toUInt64(8) AS x FORMAT JSONEachRow', { token })).text, '{"x":"8"}\n')
})

test("ClickHouse's headers: Format, the client's Query-Id echoed, an exact Summary for a small result, Exception-Tag, Timezone", async ({
  url,
  tokens,
}) => {
  const answer = await ask(url, 'SELECT number FROM numbers(10)', {
    token: tokens.raw,
    search: { query_id: 'my-query-1', default_format: 'CSV' },
  })
  assert.is(answer.status, 200)
  assert.is(answer.headers.get('x-clickhouse-format'), 'CSV')
  assert.is(answer.headers.get('content-type'), 'text/csv; charset=UTF-8; header=absent')
  assert.is(answer.headers.get('x-clickhouse-query-id'), 'my-query-1')
  assert.match(answer.headers.get('x-clickhouse-exception-tag')!, /^[a-z]{16}$/)
  assert.ok(answer.headers.get('x-clickhouse-timezone'))
  const summary = JSON.parse(answer.headers.get('x-clickhouse-summary')!)
  assert.is(summary.result_rows, '10')
  assert.is(summary.result_bytes, String(answer.body.length))
  assert.match(summary.elapsed_ns, /^\d+$/)
  const generated = await ask(url, 'SELECT 1', { token: tokens.raw })
  assert.match(generated.headers.get('x-clickhouse-query-id')!, /^[0-9a-f-]{36}$/)
})

test('the token: HTTP Basic password, X-ClickHouse-Key, or Bearer; never in the URL', async ({ url, tokens }) => {
  assert.is(
    (await ask(url, 'SELECT 1', { headers: { 'X-ClickHouse-User': 'x', 'X-ClickHouse-Key': tokens.raw } })).text,
    '1\n',
  )
  assert.is((await ask(url, 'SELECT 2', { headers: { Authorization: `Bearer ${tokens.raw}` } })).text, '2\n')
  assertError(
    await ask(url, 'SELECT 3', { search: { user: 'analyst', password: tokens.raw } }),
    401,
    516,
    'AUTHENTICATION_FAILED',
    /credentials in the URL are not accepted/,
  )
})

test('database: the DACC one or default (what clients send unasked); another is error 81', async ({ url, tokens }) => {
  const token = tokens.raw
  for (const database of ['dacc', 'default'])
    assert.is((await ask(url, 'SELECT count() FROM raw_measures', { token, search: { database } })).text, '8\n')
  assert.is(
    (await ask(url, 'SELECT 1', { token, headers: { 'X-ClickHouse-Database': 'dacc' } })).status,
    200,
    'the header too',
  )
  assertError(await ask(url, 'SELECT 1', { token, search: { database: 'system' } }), 404, 81, 'UNKNOWN_DATABASE')
})

/** A raw request, so that the compressed bytes are seen as sent. */
function rawPost(url: string, path: string, headers: Record<string, string>, body: Buffer) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const request = http.request(new URL(path, url), { method: 'POST', headers }, (response) => {
      const chunks: Buffer[] = []
      response.on('data', (chunk) => chunks.push(chunk))
      response.on('end', () =>
        resolve({ status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks) }),
      )
    })
    request.on('error', reject)
    request.end(body)
  })
}

test('gzip when asked (enable_http_compression=1 and Accept-Encoding), and a gzipped query', async ({
  url,
  tokens,
}) => {
  const authorization = `Basic ${Buffer.from(`a:${tokens.raw}`).toString('base64')}`
  const query = Buffer.from('SELECT number FROM numbers(1000)')
  const zipped = await rawPost(url, '/?enable_http_compression=1', { authorization, 'accept-encoding': 'gzip' }, query)
  assert.is(zipped.headers['content-encoding'], 'gzip')
  const expected = Array.from({ length: 1000 }, (_, index) => `${index}\n`).join('')
  assert.is(zlib.gunzipSync(zipped.body).toString(), expected)
  const plain = await rawPost(url, '/', { authorization, 'accept-encoding': 'gzip' }, query)
  assert.is(plain.headers['content-encoding'], undefined, 'not asked with enable_http_compression')
  assert.is(plain.body.toString(), expected)
  const inflated = await rawPost(url, '/', { authorization, 'content-encoding': 'gzip' }, zlib.gzipSync(query))
  assert.is(inflated.body.toString(), expected)
})

test('query parameters in the URL or a multipart form (curl -F), as ClickHouse takes them', async ({ url, tokens }) => {
  const search = { param_name: 'visits', param_day: '2022-01-02', default_format: 'JSONEachRow' }
  const query =
    'SELECT count AS n FROM aggregates_public WHERE measure_name = {name:String} AND toDate(start_date) = {day:Date}'
  assert.is((await ask(url, query, { token: tokens.public, search })).text, '{"n":"3"}\n')
  const form = new FormData()
  form.set('query', 'SELECT {a:UInt8} + {b:UInt8} AS sum')
  form.set('param_a', '3')
  form.set('param_b', '4')
  const response = await fetch(url, {
    method: 'POST',
    body: form,
    headers: { 'X-ClickHouse-Key': tokens.public },
  })
  assert.is(await response.text(), '7\n')
  // The escaped text format: \t is a tab, a quote needs no escaping.
  assert.is(
    (
      await ask(url, 'SELECT {s:String} AS s FORMAT JSONEachRow', {
        token: tokens.public,
        search: { param_s: "it's\\ta" },
      })
    ).text,
    '{"s":"it\'s\\ta"}\n',
  )
  assertError(await ask(url, 'SELECT {missing:UInt8}', { token: tokens.public }), 400, 456, 'UNKNOWN_QUERY_PARAMETER')
  assertError(
    await ask(url, 'SELECT {n:UInt8}', { token: tokens.public, search: { param_n: 'abc' } }),
    400,
    457,
    'BAD_QUERY_PARAMETER',
  )
})

test('sql:public reads what /aggregate publishes: aggregates_public equals its answer, definitions_public its definitions', async ({
  server,
  url,
  tokens,
}) => {
  const reader = await server.token(['aggregate:read'])
  const api = (await (
    await fetch(`${server.url}/aggregate?measureName=visits&startDate=2022-01-01&endDate=2022-02-01`, {
      headers: { Authorization: `Bearer ${reader}` },
    })
  ).json()) as Record<string, unknown>[]
  const rows = (
    await ask(url, "SELECT * FROM aggregates_public WHERE measure_name = 'visits' ORDER BY start_date", {
      token: tokens.public,
      search: { default_format: 'JSONEachRow', output_format_json_quote_64bit_integers: '0' },
    })
  ).text
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
  assert.equal(
    rows.map((row) => [row.start_date, row.group1, row.count, row.sum, row.avg, row.median]),
    api.map((row) => [
      String(row.startDate).replace('T', ' '),
      (row.group1 as Record<string, string>).device,
      row.count,
      row.sum,
      row.avg,
      row.median,
    ]),
  )
  assert.equal(rows.length, 2, 'device b, under the threshold, is not there')
  const definitions = await ask(url, 'SELECT name, group1_key, aggregation_threshold FROM definitions_public', {
    token: tokens.public,
  })
  assert.is(definitions.text, 'visits\tdevice\t3\n', 'the unpublished definition is not there')
})

test('sql:raw reads the whole DACC database, read-only', async ({ url, tokens }) => {
  assert.is(
    (await ask(url, "SELECT sum(value) FROM raw_measures WHERE measure_name = 'secret'", { token: tokens.raw })).text,
    '4242\n',
  )
  assertError(
    await ask(url, undefined, { token: tokens.raw, body: "INSERT INTO raw_measures (measure_name) VALUES ('x')" }),
    403,
    164,
    'READONLY',
  )
})

test('one log line per query: token id, query id, its shape without literals, rows, bytes, time; never the token', async ({
  url,
  tokens,
  lines,
}) => {
  const answer = await ask(url, "SELECT count() FROM raw_measures WHERE measure_name = 'a-private-literal'", {
    token: tokens.raw,
    search: { query_id: 'logged-1' },
  })
  assert.is(answer.status, 200)
  const line = logLine(lines, 'logged-1')
  assert.is(line.msg, 'sql query')
  assert.is(line.access, 'raw')
  assert.is(line.ran, true)
  assert.is(line.kind, 'SELECT')
  assert.is(line.shape, 'SELECT count() FROM raw_measures WHERE measure_name = ?')
  assert.is(line.rows, 1)
  assert.is(line.bytes, answer.body.length)
  assert.type(line.ms, 'number')
  assert.match(String(line.token), /^[0-9a-f-]{36}$/)
  const text = JSON.stringify(line)
  assert.not.match(text, /a-private-literal/)
  assert.not.ok(text.includes(tokens.raw))
  const refused = await ask(url, 'SELECT * FROM raw_measures', {
    token: tokens.public,
    search: { query_id: 'logged-2' },
  })
  assert.is(refused.status, 403)
  const failed = logLine(lines, 'logged-2')
  assert.equal([failed.msg, failed.ran, failed.code, failed.access], ['sql query failed', false, 497, 'public'])
})

test.run()
