import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { insertReceived } from '../helpers/answers.ts'
import { runCli, startTestServer, type TestServer } from '../helpers/server.ts'

type Context = { server: TestServer; env: Record<string, string> }
const test = suite<Context>('dacc compute-wildcard-aggregate and dacc wildcard list', {} as Context)

test.before(async (context) => {
  context.server = await startTestServer()
  context.server.define(
    { name: 'by-device', group1Key: 'device', aggregationThreshold: 2, accessApp: true },
    { name: 'by-slug-status', group1Key: 'slug', group3Key: 'status' },
  )
  await insertReceived(context.server, 'by-device', 40, 0)
  context.env = { DACC_DATA_DIR: context.server.config.dataDir }
})
test.after(async ({ server }) => server.close())

/** The "*" rows of the running server's /aggregate answer for by-device in January 2022, by day. */
async function starRows(server: TestServer): Promise<string[]> {
  const response = await server.post(
    '/aggregate',
    { measureName: 'by-device', startDate: '2022-01-01', endDate: '2022-02-01' },
    await server.token(),
  )
  const rows = (await response.json()) as { startDate: string; group1: { device: string }; count: number }[]
  return rows.filter((row) => row.group1.device === '*').map((row) => `${row.startDate.slice(0, 10)} ${row.count}`)
}

test('register: the running server adds the "*" rows at once; list shows the set; --remove takes them away', async ({
  server,
  env,
}) => {
  assert.equal(await starRows(server), [])
  const registered = await runCli(
    ['compute-wildcard-aggregate', 'by-device', 'group1', '--from-date', '2022-01-19', '--to-date', '2022-01-21'],
    env,
  )
  assert.is(registered.stderr, '')
  assert.is(registered.code, 0)
  assert.is(
    registered.stdout,
    'Wildcard set registered for by-device: group1 (buckets from 2022-01-19 00:00:00 before 2022-01-21 00:00:00)\n',
  )
  assert.equal(await starRows(server), ['2022-01-19 2', '2022-01-20 2'])

  const again = await runCli(['compute-wildcard-aggregate', 'by-device', 'group1'], env)
  assert.is(again.stdout, 'Wildcard set registered for by-device: group1 (every bucket)\n')
  assert.is((await starRows(server)).length, 20)

  await runCli(['compute-wildcard-aggregate', 'by-slug-status', 'group3,group1', '--to-date', '2022-06-01'], env)
  const list = await runCli(['wildcard', 'list'], env)
  assert.is(list.code, 0, list.stderr)
  const lines = list.stdout.trimEnd().split('\n')
  assert.match(lines[0], /^measure +groups +buckets +registered$/)
  assert.match(lines[2], /^by-device +group1 +every bucket +\d{4}-\d\d-\d\dT/)
  assert.match(lines[3], /^by-slug-status +group1,group3 +buckets before 2022-06-01 00:00:00 +\d{4}-/)
  assert.is(lines.length, 4)
  const one = await runCli(['wildcard', 'list', 'by-slug-status'], env)
  assert.is(one.stdout.trimEnd().split('\n').length, 3)

  const removed = await runCli(['compute-wildcard-aggregate', 'by-device', 'group1', '--remove'], env)
  assert.is(removed.code, 0, removed.stderr)
  assert.is(removed.stdout, 'Wildcard set removed for by-device: group1\n')
  assert.equal(await starRows(server), [])
  assert.is((await runCli(['wildcard', 'list', 'by-device'], env)).stdout, 'No wildcard sets registered\n')
})

test('bad arguments: one line on stderr, non-zero exit, nothing registered', async ({ server, env }) => {
  const sets = server.deps.wildcards.list()
  const cases: [string[], string][] = [
    [['compute-wildcard-aggregate', 'nope', 'group1'], 'No measure definition found for: nope'],
    [['compute-wildcard-aggregate', 'by-device', 'group2'], 'wildcard group does not match measure definition: group2'],
    [
      ['compute-wildcard-aggregate', 'by-device', 'group1,device'],
      'wildcard groups must be among group1, group2, group3, got: group1,device',
    ],
    [
      ['compute-wildcard-aggregate', 'by-device', 'group1', '--from-date', '2022-13-01'],
      'the from date must be YYYY-MM-DD or an ISO-8601 date-time, got: 2022-13-01',
    ],
    [
      ['compute-wildcard-aggregate', 'by-device', 'group1', '--from-date', '2022-02-01', '--to-date', '2022-01-01'],
      'the from date must be before the to date, got: 2022-02-01 00:00:00 and 2022-01-01 00:00:00',
    ],
    [
      ['compute-wildcard-aggregate', 'by-device', 'group1', '--remove'],
      'no wildcard set group1 is registered for by-device',
    ],
    [
      ['compute-wildcard-aggregate', 'by-device', 'group1', '--remove', '--from-date', '2022-01-01'],
      '--remove takes no dates',
    ],
    [
      ['compute-wildcard-aggregate', 'by-device'],
      'missing required args for command `compute-wildcard-aggregate <name> <groups>`',
    ],
    [['wildcard', 'list', 'nope'], 'No measure definition found for: nope'],
    [['wildcard', 'remove'], 'unknown command: wildcard remove (see dacc wildcard --help)'],
  ]
  for (const [args, message] of cases) {
    const { code, stdout, stderr } = await runCli(args, env)
    assert.is(code, 1, args.join(' '))
    assert.is(stdout, '', args.join(' '))
    assert.is(stderr, `Error: ${message}\n`)
  }
  assert.equal(server.deps.wildcards.list(), sets)
})

test.run()
