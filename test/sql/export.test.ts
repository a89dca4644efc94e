import fs from 'node:fs'
import path from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runCli, tempDir } from '../helpers/server.ts'
import { ask, startSqlServer, type SqlServer } from '../helpers/sql.ts'

type Context = SqlServer & { env: Record<string, string>; dir: string }
const test = suite<Context>('dacc export-public, and FORMAT Parquet through the SQL interface', {} as Context)

test.before(async (context) => {
  Object.assign(context, await startSqlServer())
  context.env = { DACC_DATA_DIR: context.server.config.dataDir }
  context.dir = tempDir()
})
test.after(async ({ server }) => server?.close())

/** Rows of a DuckDB query. */
async function duck(sql: string): Promise<Record<string, unknown>[]> {
  const connection = await (await DuckDBInstance.create()).connect()
  return (await connection.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[]
}

test("a Parquet export reads back in DuckDB: its rows and types are /aggregate's numbers", async ({
  server,
  env,
  dir,
}) => {
  const file = path.join(dir, 'public.parquet')
  const { code, stdout, stderr } = await runCli(['export-public', '--format', 'parquet', '-o', file], env)
  assert.is(stderr, '')
  assert.is(code, 0)
  assert.match(stdout, new RegExp(`^Exported aggregates_public to ${file} \\(parquet, \\d+ bytes\\)\\n$`))
  const types = await duck(`DESCRIBE SELECT * FROM '${file}'`)
  const typeOf = Object.fromEntries(types.map((row) => [row.column_name, row.column_type]))
  assert.equal(
    [typeOf.start_date, typeOf.count, typeOf.count_not_zero, typeOf.sum, typeOf.avg, typeOf.median, typeOf.group1],
    ['TIMESTAMP WITH TIME ZONE', 'UBIGINT', 'UBIGINT', 'DOUBLE', 'DOUBLE', 'DOUBLE', 'VARCHAR'],
  )
  const rows = await duck(
    `SELECT strftime(start_date AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S') AS "startDate", group1, count::INTEGER AS count,
      count_not_zero::INTEGER AS "countNotZero", sum, min, max, avg, std, first_quartile AS "firstQuartile", median,
      third_quartile AS "thirdQuartile" FROM '${file}' ORDER BY start_date`,
  )
  const reader = await server.token(['aggregate:read'])
  const api = (await (
    await fetch(`${server.url}/aggregate?measureName=visits&startDate=2022-01-01&endDate=2022-02-01`, {
      headers: { Authorization: `Bearer ${reader}` },
    })
  ).json()) as Record<string, unknown>[]
  assert.equal(
    rows.map(({ group1, ...row }) => ({ ...row, group1: { device: group1 }, measureName: 'visits' })),
    api,
  )
})

test('CSV and JSON lines; one measure, from a date to another', async ({ env, dir }) => {
  const csv = path.join(dir, 'visits.csv')
  assert.is((await runCli(['export-public', '--format', 'csv', '--measure', 'visits', '-o', csv], env)).code, 0)
  const lines = fs.readFileSync(csv, 'utf8').trim().split('\n')
  assert.match(lines[0], /^"measure_name","start_date","created_by","group1_key","group1",/)
  assert.is(lines.length, 3)
  const jsonl = path.join(dir, 'day.jsonl')
  const args = ['export-public', '--format', 'jsonl', '--from', '2022-01-02', '--to', '2022-01-03', '-o', jsonl]
  assert.is((await runCli(args, env)).code, 0)
  const rows = fs
    .readFileSync(jsonl, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line))
  assert.equal(
    rows.map((row) => [row.measure_name, row.start_date, row.count, row.sum]),
    [['visits', '2022-01-02 00:00:00', 3, 18]],
  )
})

test('bad arguments: one line on stderr, non-zero exit, no file', async ({ env, dir }) => {
  const file = path.join(dir, 'never.parquet')
  const cases: [string[], string][] = [
    [['export-public', '--format', 'xlsx', '-o', file], '--format must be one of parquet, csv, jsonl, got: xlsx'],
    [['export-public'], '-o FILE is required: the file to write'],
    [['export-public', '--measure', 'nope', '-o', file], 'No measure definition found for: nope'],
    [
      ['export-public', '--from', '2022-13-01', '-o', file],
      '--from must be a date (YYYY-MM-DD or ISO-8601), got: 2022-13-01',
    ],
  ]
  for (const [args, message] of cases) {
    const { code, stderr } = await runCli(args, env)
    assert.is(code, 1, args.join(' '))
    assert.is(stderr, `Error: ${message}\n`)
  }
  assert.not.ok(fs.existsSync(file))
})

test('the same through the SQL interface: SELECT ... FORMAT Parquet', async ({ url, tokens, dir, env }) => {
  const file = path.join(dir, 'http.parquet')
  const answer = await ask(url, 'SELECT * FROM aggregates_public ORDER BY start_date FORMAT Parquet', {
    token: tokens.public,
  })
  assert.is(answer.headers.get('content-type'), 'application/octet-stream')
  fs.writeFileSync(file, answer.body)
  const exported = path.join(dir, 'cli.parquet')
  assert.is((await runCli(['export-public', '-o', exported], env)).code, 0)
  assert.equal(await duck(`SELECT * FROM '${file}'`), await duck(`SELECT * FROM '${exported}'`))
})

test.run()
