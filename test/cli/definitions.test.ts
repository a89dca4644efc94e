import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { insertReceived } from '../helpers/answers.ts'
import { runCli, startTestServer, type TestServer } from '../helpers/server.ts'

type Context = { server: TestServer; env: Record<string, string> }
const test = suite<Context>('dacc definitions', {} as Context)

test.before(async (context) => {
  context.server = await startTestServer()
  context.env = { DACC_DATA_DIR: context.server.config.dataDir }
})
test.after(async ({ server }) => server.close())

const count = async (server: TestServer, table: string, name: string) =>
  (
    await server.query<{ n: number }>(`SELECT count() AS n FROM ${table} WHERE measure_name = {name:String}`, { name })
  )[0].n

test('list: one aligned row per definition with its raw measure count and last purge', async ({ server, env }) => {
  assert.is((await runCli(['definitions', 'list'], env)).stdout, 'No measure definitions\n')
  server.define(
    {
      name: 'full',
      org: 'acme',
      group1Key: 'slug',
      group3Key: 'status',
      aggregationThreshold: 7,
      accessApp: true,
      withQuartiles: true,
    },
    { name: 'bare' },
  )
  await insertReceived(server, 'full', 12, 0)
  const { code, stdout, stderr } = await runCli(['definitions', 'list'], env)
  assert.is(stderr, '')
  assert.is(code, 0)
  assert.is(
    stdout,
    [
      'name  org   groups         threshold  flags                    raw measures  last purge',
      '----  ----  -------------  ---------  -----------------------  ------------  ----------',
      'bare  -     -                      5  -                                   0  never',
      'full  acme  slug,-,status          7  accessApp,withQuartiles            12  never',
      '',
    ].join('\n'),
  )
})

test('delete keeps the data; --purge-data deletes the raw measures and the aggregates; wildcard sets go either way', async ({
  server,
  env,
}) => {
  server.define(
    { name: 'kept-data', group1Key: 'slug', aggregationThreshold: 1, accessApp: true },
    { name: 'purged-data', group1Key: 'slug', aggregationThreshold: 1, accessApp: true },
  )
  for (const name of ['kept-data', 'purged-data']) {
    await insertReceived(server, name, 10, 200)
    await insertReceived(server, name, 5, 0)
    server.deps.wildcards.register(name, ['group1'])
  }
  const kept = await runCli(['definitions', 'delete', 'kept-data'], env)
  assert.is(kept.code, 0, kept.stderr)
  assert.is(
    kept.stdout,
    'Definition deleted: kept-data (1 wildcard set removed; its raw measures and aggregates are kept)\n',
  )
  assert.is(await count(server, 'raw_measures', 'kept-data'), 15)

  const purged = await runCli(['definitions', 'delete', 'purged-data', '--purge-data'], env)
  assert.is(purged.code, 0, purged.stderr)
  assert.is(
    purged.stdout,
    'Definition deleted: purged-data (1 wildcard set removed; 15 raw measures and the aggregates of 15 measures deleted)\n',
  )
  assert.is(await count(server, 'raw_measures', 'purged-data'), 0)
  assert.is(await count(server, 'aggregates', 'purged-data'), 0)

  assert.equal(
    server.deps.wildcards.list().map((set) => set.measureName),
    [],
  )
  const response = await server.post(
    '/aggregate',
    { measureName: 'kept-data', startDate: '2022-01-01', endDate: '2023-01-01' },
    await server.token(),
  )
  assert.equal(await response.json(), { error: 'No measure definition found for: kept-data' })
  const list = await runCli(['definitions', 'list'], env)
  assert.not.match(list.stdout, /kept-data|purged-data/)
})

test('bad arguments: one line on stderr, non-zero exit', async ({ env }) => {
  const cases: [string[], string][] = [
    [['definitions', 'delete', 'nope'], 'No measure definition found for: nope'],
    [['definitions', 'delete', 'nope', '--purge-data'], 'No measure definition found for: nope'],
    [['definitions', 'delete'], 'missing required args for command `delete <name>`'],
    [['definitions', 'show', 'x'], 'unknown command: definitions show (see dacc definitions --help)'],
  ]
  for (const [args, message] of cases) {
    const { code, stdout, stderr } = await runCli(args, env)
    assert.is(code, 1, args.join(' '))
    assert.is(stdout, '', args.join(' '))
    assert.is(stderr, `Error: ${message}\n`)
  }
})

test.run()
