import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ask, assertError, exists, logLine, startSqlServer, unwrittenFile, type SqlServer } from '../helpers/sql.ts'

type Context = SqlServer & { canary: http.Server; hits: string[]; canaryUrl: string }
const test = suite<Context>('SQL interface: refusals, with ClickHouse error shape and nothing run', {} as Context)

test.before(async (context) => {
  Object.assign(context, await startSqlServer())
  // A url() that ran would be seen here.
  context.hits = []
  context.canary = http.createServer((request, response) => {
    context.hits.push(request.url ?? '')
    response.end('1\n')
  })
  await new Promise<void>((resolve) => context.canary.listen(0, '127.0.0.1', resolve))
  context.canaryUrl = `http://127.0.0.1:${(context.canary.address() as AddressInfo).port}`
})
test.after(async ({ server, canary }) => {
  await server?.close()
  canary?.close()
})

let sequence = 0

/** Asks `query` with `token` (and URL entries): ClickHouse's error answer, and its log line says it never ran. */
async function refused(
  { url, lines }: Context,
  token: string,
  query: string,
  [status, code, type]: [number, number, string],
  search: Record<string, string> = {},
): Promise<string> {
  const queryId = `attack-${++sequence}`
  const answer = await ask(url, undefined, { token, body: query, search: { ...search, query_id: queryId } })
  assertError(answer, status, code, type)
  const line = logLine(lines, queryId)
  assert.is(line.ran, false, `${query}: refused before it ran`)
  assert.is(line.rows, 0)
  return answer.text
}

const ACCESS: [number, number, string] = [403, 497, 'ACCESS_DENIED']
const READONLY: [number, number, string] = [403, 164, 'READONLY']
const SYNTAX: [number, number, string] = [400, 62, 'SYNTAX_ERROR']

test('every attack `dacc sql` is tested against, with either token: settings in a subquery, file(), url(), system tables, INTO OUTFILE, executable...', async (context) => {
  const { server, tokens } = context
  const outfile = unwrittenFile('out.csv')
  const attacks: [string, [number, number, string]][] = [
    [`SELECT * FROM (SELECT key, value FROM sqlite('${server.config.dataDir}/dacc.sqlite', 'settings'))`, ACCESS],
    ['SELECT * FROM (SELECT 1 SETTINGS readonly = 0)', READONLY],
    ['SELECT count() FROM aggregates_public SETTINGS readonly = 0, max_result_rows = 0', READONLY],
    ['WITH x AS (SELECT 1 SETTINGS readonly = 0) SELECT * FROM x', READONLY],
    ["SELECT * FROM file('/etc/hostname', 'LineAsString')", ACCESS],
    ["SELECT file('/etc/hostname') AS f", ACCESS],
    [`SELECT * FROM url('${context.canaryUrl}/from', 'LineAsString')`, ACCESS],
    [`SELECT 1 WHERE 1 IN (SELECT * FROM url('${context.canaryUrl}/in', 'LineAsString'))`, ACCESS],
    ["SELECT * FROM executable('cat /etc/hostname', 'LineAsString', 'x String')", ACCESS],
    ["SELECT * FROM remote('127.0.0.1', system.one)", ACCESS],
    ["SELECT * FROM merge('system', '^processes$')", ACCESS],
    ['SELECT query FROM system.processes', ACCESS],
    ['SELECT 1 WHERE 1 IN system.query_log', ACCESS],
    ['SELECT * FROM INFORMATION_SCHEMA.TABLES', ACCESS],
    ['EXPLAIN SELECT * FROM system.processes', ACCESS],
    ['DESCRIBE system.processes', ACCESS],
    ['SHOW PROCESSLIST', ACCESS],
    ['SHOW TABLES FROM system', ACCESS],
    ["SELECT dictGet('any', 'x', toUInt64(1))", ACCESS],
    ["SELECT * FROM dictionary('any')", ACCESS],
    ["SELECT joinGet('aggregates_public', 'count', 'x')", ACCESS],
    [`SELECT 1 INTO OUTFILE '${outfile}'`, ACCESS],
    [`SELECT * FROM aggregates_public INTO OUTFILE '${outfile}' FORMAT CSV`, ACCESS],
    ["INSERT INTO raw_measures (measure_name) VALUES ('x')", READONLY],
    ['DROP TABLE raw_measures', READONLY],
    ['ALTER TABLE aggregates DELETE WHERE 1', READONLY],
    ['SET readonly = 0', READONLY],
    ['SELECT 1; DROP TABLE raw_measures', SYNTAX],
  ]
  for (const token of [tokens.raw, tokens.public])
    for (const [query, shape] of attacks) await refused(context, token, query, shape)
  assert.equal(context.hits, [], 'no url() was fetched, not even to read its schema')
  assert.not.ok(exists(outfile), 'no file was written')
  assert.equal(
    await server.query('SELECT count() AS n FROM raw_measures'),
    [{ n: 8 }],
    'nothing was written or dropped',
  )
})

test('a sql:public token reads the public views only, whatever the query: raw tables, joins, subqueries, CTEs, parameters, table functions', async (context) => {
  const { tokens } = context
  const attacks = [
    'SELECT * FROM raw_measures',
    'SELECT * FROM dacc.aggregates',
    'SELECT * FROM measure_definitions',
    'SELECT * FROM imported_aggregates',
    'WITH aggregates_public AS (SELECT * FROM raw_measures) SELECT * FROM aggregates_public',
    'SELECT * FROM aggregates_public AS p INNER JOIN raw_measures AS r ON p.measure_name = r.measure_name',
    'SELECT count() FROM aggregates_public WHERE count IN (SELECT count() FROM raw_measures)',
    'SELECT 1 FROM aggregates_public WHERE measure_name IN dacc.raw_measures',
    'SELECT (SELECT sum(value) FROM raw_measures) AS leaked',
    // A table's name taken by a common table expression, read out of its scope.
    'SELECT (SELECT sum(value) FROM raw_measures) AS leaked FROM (WITH raw_measures AS (SELECT 1 AS value) SELECT 1)',
    'SELECT measure_name FROM aggregates_public UNION ALL SELECT measure_name FROM raw_measures',
    'SELECT * FROM view(SELECT * FROM raw_measures)',
    'SELECT * FROM loop(raw_measures)',
    "SELECT * FROM merge(currentDatabase(), '^raw')",
    "SELECT * FROM input('x UInt8')",
    'EXISTS TABLE raw_measures',
    'DESCRIBE TABLE raw_measures',
    'SHOW CREATE TABLE raw_measures',
    'SHOW TABLES',
    'EXPLAIN SELECT * FROM aggregates_public',
  ]
  for (const query of attacks) {
    const text = await refused(context, tokens.public, query, ACCESS)
    assert.match(text, /a sql:public token reads aggregates_public and definitions_public only/, query)
    assert.not.match(text, /777|4242/, 'no value under a threshold, nor of an unpublished measure')
  }
  for (const table of ['raw_measures', 'dacc.raw_measures', 'system.processes'])
    await refused(context, tokens.public, 'SELECT * FROM {t:Identifier}', ACCESS, { param_t: table })
  // What it may read, it reads: the views, their description, and what SELECT reads without FROM.
  for (const query of [
    'SELECT count() FROM aggregates_public',
    'SELECT count() FROM dacc.definitions_public',
    'WITH v AS (SELECT * FROM aggregates_public) SELECT count() FROM v',
    'DESCRIBE TABLE aggregates_public',
    'EXISTS TABLE definitions_public',
    'SELECT number FROM numbers(3)',
  ])
    assert.is((await ask(context.url, query, { token: tokens.public })).status, 200, query)
})

test('settings from the URL: output settings pass, read-only cannot be lifted, no other setting changes', async (context) => {
  const { url, tokens } = context
  await refused(context, tokens.raw, 'SELECT 1', READONLY, { readonly: '0' })
  await refused(context, tokens.raw, 'SELECT 1', READONLY, { readonly: '2' })
  await refused(context, tokens.raw, 'SELECT 1', READONLY, { allow_ddl: '1' })
  await refused(context, tokens.raw, 'SELECT 1', READONLY, { output_format_schema: '/tmp/schema.capnp' })
  const answer = await ask(url, 'SELECT 1.5 AS x, 2 AS y', {
    token: tokens.raw,
    search: { format_csv_delimiter: ';', default_format: 'CSV', readonly: '1' },
  })
  assert.is(answer.text, '1.5;2\n')
})

test('tokens: none, unknown, revoked, without a sql scope', async (context) => {
  const { server, url, tokens } = context
  const none = await ask(url, 'SELECT 1')
  assertError(none, 401, 194, 'REQUIRED_PASSWORD', /a DACC token is required/)
  assert.match(none.headers.get('www-authenticate')!, /^Basic realm="DACC SQL"/)
  assertError(await ask(url, 'SELECT 1', { token: 'not-a-token' }), 401, 516, 'AUTHENTICATION_FAILED')
  const revoked = await server.deps.tokens.create('leaving-org', ['sql:raw'])
  assert.is((await ask(url, 'SELECT 1', { token: revoked })).status, 200)
  server.deps.tokens.deleteOrg('leaving-org')
  assertError(await ask(url, 'SELECT 1', { token: revoked }), 401, 516, 'AUTHENTICATION_FAILED')
  assertError(
    await ask(url, 'SELECT 1', { token: tokens.api }),
    403,
    497,
    'ACCESS_DENIED',
    /neither the sql:public nor the sql:raw scope/,
  )
})

test.run()
