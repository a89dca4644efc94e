import { ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseError } from '@clickhouse/client'
import { DuckDBInstance } from '@duckdb/node-api'
import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { tempDir } from '../helpers/server.ts'
import { startSqlServer, type SqlServer } from '../helpers/sql.ts'

type Context = SqlServer & { client: ClickHouseClient }
const test = suite<Context>('SQL interface: @clickhouse/client, unchanged', {} as Context)

test.before(async (context) => {
  Object.assign(context, await startSqlServer())
  // As a data engineer configures it for a ClickHouse server: URL, a user name, the token as password.
  context.client = createClient({
    url: context.url,
    username: 'analyst',
    password: context.tokens.raw,
    compression: { response: true },
    log: { level: ClickHouseLogLevel.OFF },
  })
})
test.after(async ({ client, server }) => {
  await client?.close()
  await server?.close()
})

async function thrown(promise: Promise<unknown>): Promise<ClickHouseError> {
  try {
    await promise
  } catch (err) {
    return err as ClickHouseError
  }
  assert.unreachable('no error')
  return undefined as never
}

test('ping', async ({ client }) => {
  assert.equal(await client.ping(), { success: true })
  assert.equal(await client.ping({ select: true }), { success: true })
})

test('query parameters of every kind, bound by the engine as a server binds them', async ({ client }) => {
  const result = await client.query({
    query: `SELECT {s:String} AS s, {n:UInt32} AS n, {list:Array(String)} AS list, {day:Date} AS day,
      {maybe:Nullable(String)} AS maybe, (SELECT count() FROM {table:Identifier}) AS rows`,
    query_params: {
      s: "it's\ta\\b",
      n: 42,
      list: ["o'neil", 'b'],
      day: '2022-01-02',
      maybe: null,
      table: 'aggregates_public',
    },
    format: 'JSONEachRow',
  })
  assert.equal(await result.json(), [
    { s: "it's\ta\\b", n: 42, list: ["o'neil", 'b'], day: '2022-01-02', maybe: null, rows: '2' },
  ])
})

test('a large result streams: a million rows, read as they come', async ({ client }) => {
  const result = await client.query({ query: 'SELECT number FROM numbers(1000000)', format: 'JSONCompactEachRow' })
  // Past the first megabyte the answer is sent before the query ends: its summary has no count yet.
  assert.is(JSON.parse(String(result.response_headers['x-clickhouse-summary'])).result_rows, '0')
  let rows = 0
  let last: unknown
  for await (const batch of result.stream()) {
    rows += batch.length
    last = batch.at(-1)?.json()
  }
  assert.is(rows, 1_000_000)
  assert.equal(last, ['999999'])
})

/** The query every format is asked, with columns of the kinds data engineers read. */
const QUERY = `SELECT number AS n, toString(number) AS s, toDate('2022-01-01') + number % 30 AS day,
  number / 3 AS f, if(number % 7 = 0, NULL, number) AS maybe FROM numbers(50000)`

test('each format exactly as the engine writes it: JSONEachRow, JSON, CSV, TabSeparated, Parquet, Arrow, RowBinary', async ({
  client,
  server,
}) => {
  for (const format of ['JSONEachRow', 'JSON', 'CSV', 'TabSeparated', 'Parquet', 'Arrow', 'RowBinary']) {
    const through = await client.exec({ query: `${QUERY} FORMAT ${format}` })
    const chunks: Buffer[] = []
    for await (const chunk of through.stream) chunks.push(chunk)
    const answer = Buffer.concat(chunks)
    // The engine's own output of the same query, with the settings the interface gives JSON.
    const engine = await server.deps.clickhouse.client.exec({
      query: `${QUERY} FORMAT ${format} SETTINGS output_format_json_quote_64bit_integers = 1`,
    })
    const expected: Buffer[] = []
    for await (const chunk of engine.stream) expected.push(chunk)
    // JSON's statistics say how long the query took: the rest must be equal byte for byte.
    const clean = (bytes: Buffer) =>
      format === 'JSON' ? bytes.toString().replace(/"statistics":[\s\S]*$/, '') : bytes.toString('base64')
    assert.ok(answer.length > 100_000, format)
    assert.is(clean(answer), clean(Buffer.concat(expected)), format)
  }
  const json = await client.query({ query: 'SELECT 1 AS one, [1, 2] AS list', format: 'JSON' })
  assert.equal((await json.json<{ data: unknown[] }>()).data, [{ one: 1, list: [1, 2] }])
  const csv = await client.query({ query: "SELECT 'a,b' AS x", format: 'CSV' })
  assert.is(await csv.text(), '"a,b"\n')
  const tsv = await client.query({ query: "SELECT 'a\tb' AS x", format: 'TabSeparated' })
  assert.is(await tsv.text(), 'a\\tb\n')
})

test('a Parquet result reads back in DuckDB with its types', async ({ client }) => {
  const file = path.join(tempDir(), 'result.parquet')
  const result = await client.exec({ query: `${QUERY} FORMAT Parquet` })
  await fs.promises.writeFile(file, result.stream)
  const connection = await (await DuckDBInstance.create()).connect()
  const types = await connection.runAndReadAll(`DESCRIBE SELECT * FROM '${file}'`)
  assert.equal(
    types.getRowObjectsJson().map((row) => [row.column_name, row.column_type]),
    [
      ['n', 'UBIGINT'],
      ['s', 'VARCHAR'],
      ['day', 'DATE'],
      ['f', 'DOUBLE'],
      ['maybe', 'UBIGINT'],
    ],
  )
  const sums = await connection.runAndReadAll(`SELECT sum(n)::VARCHAR, count(maybe) FROM '${file}'`)
  assert.equal(sums.getRowsJson(), [['1249975000', '42857']])
})

test("an error's code and message, before the answer or in the stream midway", async ({ client }) => {
  const unknown = await thrown(client.query({ query: 'SELECT * FROM nowhere' }))
  assert.is(unknown.code, '60')
  assert.is(unknown.type, 'UNKNOWN_TABLE')
  assert.match(unknown.message, /^Unknown table expression identifier 'nowhere'/)
  const refused = await thrown(client.query({ query: "SELECT * FROM file('/etc/passwd', 'LineAsString')" }))
  assert.is(refused.code, '497')
  assert.is(refused.type, 'ACCESS_DENIED')
  // Past the first megabyte sent, a failure comes at the end of the stream, where the client finds it.
  const result = await client.query({
    query: 'SELECT number, throwIf(number = 400000) FROM numbers(500000)',
    format: 'JSONCompactEachRow',
  })
  let rows = 0
  const midway = await thrown(
    (async () => {
      for await (const batch of result.stream()) rows += batch.length
    })(),
  )
  assert.is(midway.code, '395')
  assert.is(midway.type, 'FUNCTION_THROW_IF_VALUE_IS_NON_ZERO')
  assert.ok(rows > 0 && rows <= 400_000, `${rows} rows before it`)
})

test.run()
