import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { aggregateAnswers, DAY_MS, insertReceived } from '../helpers/answers.ts'
import { runCli, startTestServer, type TestServer } from '../helpers/server.ts'

// The server runs in this process; the CLI, a child process, reaches it through its socket.
type Context = { server: TestServer; env: Record<string, string> }
const test = suite<Context>('dacc purge', {} as Context)

test.before(async (context) => {
  context.server = await startTestServer()
  context.server.define(
    { name: 'purged', group1Key: 'device', aggregationThreshold: 2, accessApp: true, withQuartiles: true },
    { name: 'untouched', group1Key: 'device', aggregationThreshold: 2, accessApp: true },
  )
  context.server.deps.wildcards.register('purged', ['group1'], { fromDate: '2022-01-10' })
  context.env = { DACC_DATA_DIR: context.server.config.dataDir }
})
test.after(async ({ server }) => server.close())

const rawCounts = async (server: TestServer) =>
  Object.fromEntries(
    (
      await server.query<{ measure_name: string; n: number }>(
        'SELECT measure_name, count() AS n FROM raw_measures GROUP BY ALL',
      )
    ).map((row) => [row.measure_name, row.n]),
  )

test('purge measure removes old raw measures only, and every /aggregate answer stays byte-identical', async ({
  server,
  env,
}) => {
  await insertReceived(server, 'purged', 60, 200)
  await insertReceived(server, 'purged', 30, 100)
  await insertReceived(server, 'purged', 20, 1)
  await insertReceived(server, 'untouched', 10, 200)
  const before = await aggregateAnswers(server, 'purged')
  assert.ok(
    before.every((answer) => answer.startsWith('200 [{')),
    before[0],
  )
  assert.ok(before.some((answer) => answer.includes('"median"')) && before.some((answer) => answer.includes('"*"')))

  const { code, stdout, stderr } = await runCli(['purge', 'measure', 'purged', '-d', '90'], env)
  assert.is(stderr, '')
  assert.is(code, 0)
  assert.match(stdout, /^Purged purged: 90 raw measures received before \S+\n$/)
  const cutoff = /^Purged purged: 90 raw measures received before (\S+)\n$/.exec(stdout)?.[1] ?? ''
  assert.ok(Math.abs(Date.parse(cutoff) - (Date.now() - 90 * DAY_MS)) < 60_000, cutoff)
  assert.equal(await rawCounts(server), { purged: 20, untouched: 10 })
  assert.equal(await aggregateAnswers(server, 'purged'), before)

  const again = await runCli(['purge', 'measure', 'purged', '--days', '90'], env)
  assert.match(again.stdout, /^Purged purged: 0 raw measures received before /)
})

test('purge all-measures purges every definition, 90 days by default; definitions list shows the last purge', async ({
  server,
  env,
}) => {
  const before = await aggregateAnswers(server, 'untouched')
  const { code, stdout, stderr } = await runCli(['purge', 'all-measures'], env)
  assert.is(stderr, '')
  assert.is(code, 0)
  assert.match(
    stdout,
    /^Purged purged: 0 raw measures received before \S+\nPurged untouched: 10 raw measures received before \S+\n$/,
  )
  assert.equal(await rawCounts(server), { purged: 20 })
  assert.equal(await aggregateAnswers(server, 'untouched'), before)

  const list = await runCli(['definitions', 'list'], env)
  assert.is(list.code, 0, list.stderr)
  const purged = list.stdout.split('\n').find((line) => line.startsWith('purged '))!
  assert.match(purged, /^purged +- +device +2 +accessApp,withQuartiles +20 +\d{4}-\d\d-\d\dT[\d:.]+Z$/)
})

test('bad arguments: one line on stderr, non-zero exit, nothing purged', async ({ server, env }) => {
  const counts = await rawCounts(server)
  const cases: [string[], RegExp][] = [
    [['purge', 'measure', 'nope'], /^Error: No measure definition found for: nope\n$/],
    [['purge', 'measure', 'purged', '--days=-1'], /^Error: --days must be a whole number from 0 to 36500, got: -1\n$/],
    [
      ['purge', 'all-measures', '--days', 'soon'],
      /^Error: --days must be a whole number from 0 to 36500, got: soon\n$/,
    ],
    [['purge', 'measure'], /^Error: missing required args for command `measure <name>`\n$/],
    [['purge', 'everything'], /^Error: unknown command: purge everything \(see dacc purge --help\)\n$/],
    [['purge'], /^Error: a command is needed \(see dacc purge --help\)\n$/],
  ]
  for (const [args, message] of cases) {
    const { code, stdout, stderr } = await runCli(args, env)
    assert.is(code, 1, args.join(' '))
    assert.is(stdout, '', args.join(' '))
    assert.match(stderr, message)
  }
  assert.equal(await rawCounts(server), counts)
})

test('-d 0 purges everything received up to now, as the original allowed; answers unchanged', async ({
  server,
  env,
}) => {
  const before = await aggregateAnswers(server, 'purged')
  const { code, stdout, stderr } = await runCli(['purge', 'measure', 'purged', '-d', '0'], env)
  assert.is(stderr, '')
  assert.is(code, 0)
  assert.match(stdout, /^Purged purged: 20 raw measures received before \S+\n$/)
  assert.equal(await rawCounts(server), {})
  assert.equal(await aggregateAnswers(server, 'purged'), before)
})

test.run()
