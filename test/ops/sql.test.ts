import type { Readable } from 'node:stream'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { UsageError } from '../../src/errors.ts'
import { readOnlyQuery } from '../../src/ops/sql.ts'
import { startTestServer, type TestServer } from '../helpers/server.ts'

type Context = { server: TestServer }
const test = suite<Context>('readOnlyQuery', {} as Context)

test.before(async (context) => {
  context.server = await startTestServer()
  context.server.define({ name: 'm', aggregationThreshold: 1 })
})
test.after(async ({ server }) => server.close())

/** The columns and rows `dacc sql` streams (JSON arrays a line: names, types, rows). */
async function collect(stream: Readable) {
  let text = ''
  for await (const chunk of stream) text += chunk
  const [names, types, ...rows] = text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as unknown[])
  return { columns: (names as string[]).map((name, index) => ({ name, type: types[index] })), rows }
}

const run = async (server: TestServer, query: string, maxRows?: number) =>
  collect(await readOnlyQuery(server.deps.clickhouse, query, maxRows))

async function refusal(server: TestServer, query: string): Promise<string> {
  try {
    await run(server, query)
  } catch (err) {
    assert.instance(err, UsageError, `${query}: ${err}`)
    assert.not.match((err as Error).message, /\n/)
    return (err as Error).message
  }
  assert.unreachable(`${query} was not refused`)
  return ''
}

test('reads: columns with their types and rows, for every read-only kind of statement', async ({ server }) => {
  assert.equal(await run(server, "SELECT 1 AS a, 'x' AS b, [1, 2] AS c, NULL AS d -- a comment\n;"), {
    columns: [
      { name: 'a', type: 'UInt8' },
      { name: 'b', type: 'String' },
      { name: 'c', type: 'Array(UInt8)' },
      { name: 'd', type: 'Nullable(Nothing)' },
    ],
    rows: [[1, 'x', [1, 2], null]],
  })
  for (const query of [
    'WITH 2 AS x SELECT x',
    'SHOW TABLES',
    'DESCRIBE raw_measures',
    'EXPLAIN SELECT 1',
    'EXISTS TABLE aggregates',
    '(SELECT 1) UNION ALL (SELECT 2)',
  ]) {
    assert.ok((await run(server, query)).rows.length > 0, query)
  }
})

test('writes are refused in one line, by the check and by ClickHouse itself (readonly = 1 on that query)', async ({
  server,
}) => {
  const kind = 'only read-only queries run here (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, EXISTS), got: '
  assert.is(await refusal(server, "INSERT INTO raw_measures (measure_name) VALUES ('x')"), `${kind}INSERT`)
  assert.is(await refusal(server, 'drop table raw_measures'), `${kind}DROP`)
  assert.is(await refusal(server, 'ALTER TABLE raw_measures DELETE WHERE 1'), `${kind}ALTER`)
  assert.is(await refusal(server, 'SET readonly = 0'), `${kind}SET`)
  assert.match(
    await refusal(server, 'SELECT 1; DROP TABLE raw_measures'),
    /^Syntax error \(Multi-statements are not allowed\)/,
  )
  assert.is(
    await refusal(server, "SELECT 1 INTO OUTFILE '/tmp/dacc-outfile.csv'"),
    'INTO OUTFILE is not allowed: redirect the output instead',
  )
  assert.is(
    await refusal(server, 'SELECT 1 FORMAT CSV'),
    'a FORMAT clause is not allowed: choose the output with --format',
  )
  // What the check lets through still runs read-only.
  assert.equal((await run(server, "SELECT getSetting('readonly') AS r")).rows, [[1]])
  // ...and the server's own session stays writable.
  const response = await server.post(
    '/measure',
    { measureName: 'm', value: 1, startDate: '2022-01-01' },
    await server.token(),
  )
  assert.is(response.status, 201, await response.text())
  assert.equal((await run(server, "SELECT count() AS n FROM raw_measures WHERE measure_name = 'm'")).rows, [[1]])
})

test('nothing lifts read-only or reads beyond the DACC tables: subquery SETTINGS, table functions, file(), system tables', async ({
  server,
}) => {
  const secrets = `sqlite('${server.config.dataDir}/dacc.sqlite', 'settings')`
  const refused: [string, string][] = [
    [
      `SELECT * FROM (SELECT key, value FROM ${secrets} SETTINGS readonly = 0)`,
      'the table function sqlite is not allowed',
    ],
    ['SELECT * FROM (SELECT 1 SETTINGS readonly = 0)', 'a SETTINGS clause is not allowed in dacc sql'],
    ['SELECT 1 SETTINGS readonly = 0', 'a SETTINGS clause is not allowed in dacc sql'],
    ["SELECT * FROM file('/etc/hostname', 'LineAsString')", 'the table function file is not allowed'],
    ["SELECT file('/etc/hostname') AS f", 'the function file is not allowed'],
    ["SELECT * FROM url('http://127.0.0.1:9/', 'LineAsString')", 'the table function url is not allowed'],
    [
      "SELECT * FROM executable('cat /etc/hostname', 'LineAsString', 'x String')",
      'the table function executable is not allowed',
    ],
    ["SELECT * FROM remote('127.0.0.1', system.one)", 'the table function remote is not allowed'],
    ["SELECT * FROM merge('system', '^processes$')", 'the table function merge is not allowed'],
    ['SELECT query FROM system.processes', 'the table system.processes is not allowed'],
    ['SELECT 1 WHERE 1 IN system.query_log', 'the table system.query_log is not allowed'],
    ['SELECT * FROM INFORMATION_SCHEMA.TABLES', 'the table INFORMATION_SCHEMA.TABLES is not allowed'],
    ['EXPLAIN SELECT * FROM system.processes', 'the table system.processes is not allowed'],
    ['DESCRIBE system.processes', 'the table system.processes is not allowed'],
    ['SHOW PROCESSLIST', 'this SHOW statement is not allowed'],
    ['SHOW TABLES FROM system', 'this SHOW statement is not allowed'],
  ]
  for (const [query, message] of refused)
    assert.is((await refusal(server, query)).replace(/: dacc sql reads the DACC tables only$/, ''), message, query)
  assert.equal(
    (await run(server, 'SELECT count() AS n FROM dacc.raw_measures')).rows.length,
    1,
    'the DACC database by its name',
  )
})

test('a result streams whatever its size; maxRows, when given, refuses a larger one in one line', async ({
  server,
}) => {
  const stream = await readOnlyQuery(server.deps.clickhouse, 'SELECT number, toString(number) FROM numbers(300000)')
  let rows = -2 // the names and types lines
  let largest = 0
  for await (const chunk of stream) {
    rows += String(chunk).split('\n').length - 1
    largest = Math.max(largest, chunk.length)
  }
  assert.is(rows, 300000)
  assert.ok(largest <= 1 << 20, `chunks as the engine writes them, not the whole result: ${largest} bytes`)
  assert.is((await run(server, 'SELECT number FROM numbers(100)', 100)).rows.length, 100)
  try {
    await run(server, 'SELECT number FROM numbers(101)', 100)
    assert.unreachable('not refused')
  } catch (err) {
    assert.instance(err, UsageError)
    assert.is((err as Error).message, 'the result has more than 100 rows: narrow the query, or raise --max-rows')
  }
})

test.run()
