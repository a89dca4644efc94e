import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runCli, startTestServer, type TestServer } from '../helpers/server.ts'

type Context = { server: TestServer; env: Record<string, string> }
const test = suite<Context>('dacc sql', {} as Context)

test.before(async (context) => {
  context.server = await startTestServer()
  context.env = { DACC_DATA_DIR: context.server.config.dataDir }
})
test.after(async ({ server }) => server.close())

const QUERY =
  "SELECT number AS n, repeat('ab', toUInt32(number)) AS text, if(number = 1, NULL, number * 1.5) AS maybe FROM numbers(3)"

test('prints an aligned table by default: numbers right-aligned, NULL, a row count', async ({ env }) => {
  const { code, stdout, stderr } = await runCli(['sql', QUERY], env)
  assert.is(stderr, '')
  assert.is(code, 0)
  assert.is(
    stdout,
    ['n  text  maybe', '-  ----  -----', '0            0', '1  ab    NULL', '2  abab      3', '(3 rows)', ''].join(
      '\n',
    ),
  )
})

test('--format json prints one JSON object per row (JSON lines)', async ({ env }) => {
  const { code, stdout } = await runCli(['sql', QUERY, '--format', 'json'], env)
  assert.is(code, 0)
  assert.is(
    stdout,
    ['{"n":0,"text":"","maybe":0}', '{"n":1,"text":"ab","maybe":null}', '{"n":2,"text":"abab","maybe":3}', ''].join(
      '\n',
    ),
  )
  assert.is((await runCli(['sql', 'SELECT 1 WHERE 0', '--format', 'json'], env)).stdout, '')
})

test('a result of any size is printed as it comes: no row limit unless --max-rows, a table aligned a thousand rows at a time', async ({
  env,
}) => {
  const json = await runCli(['sql', 'SELECT number AS n FROM numbers(25000)', '--format', 'json'], env)
  assert.is(json.code, 0, json.stderr)
  const lines = json.stdout.split('\n')
  assert.is(lines.length, 25001)
  assert.is(lines[24999], '{"n":24999}')
  const table = await runCli(['sql', "SELECT if(number < 1000, 'a', 'abcdefgh') AS s FROM numbers(1500)"], env)
  assert.is(table.code, 0, table.stderr)
  const rows = table.stdout.split('\n')
  assert.equal(rows.slice(0, 3), ['s', '-', 'a'], 'the first thousand rows aligned on their own widths')
  assert.is(rows[1002], 'abcdefgh', 'the next ones on theirs')
  assert.is(rows.at(-2), '(1500 rows)')
})

test('writes and bad arguments: one line on stderr, non-zero exit', async ({ server, env }) => {
  const cases: [string[], string][] = [
    [
      ['sql', "INSERT INTO raw_measures (measure_name) VALUES ('x')"],
      'only read-only queries run here (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, EXISTS), got: INSERT',
    ],
    [
      ['sql', 'DROP TABLE aggregates'],
      'only read-only queries run here (SELECT, WITH, SHOW, DESCRIBE, EXPLAIN, EXISTS), got: DROP',
    ],
    [['sql', 'SELECT * FROM (SELECT 1 SETTINGS readonly = 0)'], 'a SETTINGS clause is not allowed in dacc sql'],
    [['sql', 'SELECT 1', '--format', 'csv'], '--format must be table or json, got: csv'],
    [
      ['sql', 'SELECT number FROM numbers(11)', '--max-rows', '10'],
      'the result has more than 10 rows: narrow the query, or raise --max-rows',
    ],
    [['sql', 'SELECT 1', '--max-rows', '0'], '--max-rows must be a whole number from 1 to 1000000000000, got: 0'],
    [['sql', 'SELECT * FROM nowhere'], "Unknown table expression identifier 'nowhere'"],
    [['sql'], 'missing required args for command `sql <query>`'],
  ]
  for (const [args, message] of cases) {
    const { code, stdout, stderr } = await runCli(args, env)
    assert.is(code, 1, args.join(' '))
    assert.is(stdout, '', args.join(' '))
    assert.ok(
      stderr.startsWith(`Error: ${message}`) && stderr.endsWith('\n') && !stderr.slice(0, -1).includes('\n'),
      `${args.join(' ')}: ${stderr}`,
    )
  }
  assert.equal(await server.query('SELECT count() AS n FROM raw_measures'), [{ n: 0 }])
})

test.run()
