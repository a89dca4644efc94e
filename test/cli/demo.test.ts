import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { DEMO_DEFINITIONS, monthMeasures } from '../../src/demo/data.ts'
import { freePort } from '../helpers/ports.ts'
import { runCli, startTestServer, type CliResult, type TestServer } from '../helpers/server.ts'

type Context = { server: TestServer; env: Record<string, string> }
const test = suite<Context>('dacc demo', {} as Context)

test.before(async (context) => {
  context.server = await startTestServer()
  context.env = {
    DACC_DATA_DIR: context.server.config.dataDir,
    DACC_PORT: new URL(context.server.url).port,
    DACC_METRICS_PORT: '0',
  }
})
test.after(async ({ server }) => server.close())

/** The demo's measures of its first `months` months. */
const demoMeasures = (months: number) =>
  DEMO_DEFINITIONS.flatMap((definition) =>
    Array.from({ length: months }, (_, month) => monthMeasures(definition, month)).flat(),
  )

const rawCount = async (server: TestServer) =>
  (await server.query<{ n: number }>("SELECT count() AS n FROM raw_measures WHERE created_by = 'demo'"))[0].n

const line = (result: CliResult, start: string) => result.stdout.split('\n').find((text) => text.startsWith(start))

test('the same measures every time, from a generator seeded by measure and day', () => {
  const [first, again] = [demoMeasures(2), demoMeasures(2)]
  assert.equal(first, again)
  assert.ok(first.length > 4000)
  assert.ok(first.every((measure) => measure.startDate >= '2025-01-01' && measure.startDate < '2025-03-01'))
})

test('refuses a store with definitions of its own, changing nothing; --force seeds it anyway', async ({
  server,
  env,
}) => {
  server.define({ name: 'a-real-measure' })
  const refused = await runCli(['demo'], env)
  assert.is(refused.code, 1)
  assert.is(
    refused.stderr,
    `Error: ${env.DACC_DATA_DIR} holds other definitions (a-real-measure): the demo seeds a data directory of its own (DACC_DATA_DIR=demo-data for npm start and dacc demo), or this one with --force\n`,
  )
  assert.is(server.deps.definitions.get('demo-connections'), undefined)

  const forced = await runCli(['demo', '--months', '1', '--force'], env)
  assert.is(forced.stderr, '')
  assert.is(forced.code, 0)
  assert.is(await rawCount(server), demoMeasures(1).length)
  server.deps.definitions.delete('a-real-measure')
})

test('a rerun sends nothing; more months send only the months missing; /aggregate counts each once', async ({
  server,
  env,
}) => {
  // The month the previous test seeded is there already.
  const first = await runCli(['demo', '--months', '2'], env)
  assert.is(first.code, 0, first.stderr)
  const [one, two] = [demoMeasures(1).length, demoMeasures(2).length]
  assert.is(
    first.stdout.split('\n')[0],
    'Demo definitions: demo-connections, demo-electricity-kwh, demo-konnector-runs (0 new, 3 updated)',
  )
  assert.is(
    line(first, 'Demo measures:'),
    `Demo measures: ${two - one} sent, ${one} already there (2 months from 2025-01-01)`,
  )

  const again = await runCli(['demo', '--months', '2'], env)
  assert.is(again.code, 0, again.stderr)
  assert.is(line(again, 'Demo measures:'), `Demo measures: 0 sent, ${two} already there (2 months from 2025-01-01)`)
  assert.is(await rawCount(server), two)

  // What a reader sees: every demo measure of the two months, once.
  const token = line(again, 'Read token')!.split(': ')[1]
  let answered = 0
  for (const { name } of DEMO_DEFINITIONS) {
    const response = await fetch(
      `${server.url}/aggregate?measureName=${name}&startDate=2025-01-01&endDate=2025-03-01&period=year`,
      { headers: { Authorization: `Bearer ${token}` } },
    )
    assert.is(response.status, 200)
    answered += ((await response.json()) as { count: number }[]).reduce((sum, row) => sum + row.count, 0)
  }
  assert.is(answered, two)
  assert.is(
    line(again, 'Explorer:'),
    `Explorer: ${server.url}/?measure=demo-connections&start=2025-01-01&end=2025-03-01 (paste the read token, press Load measures)`,
  )
})

test('the read token reads only; the token that wrote the measures is revoked', async ({ server, env }) => {
  const result = await runCli(['demo', '--months', '1'], env)
  const token = line(result, 'Read token (org demo, scope aggregate:read): ')!.split(': ')[1]
  const write = await server.post(
    '/measure',
    { measureName: 'demo-electricity-kwh', value: 1, startDate: '2025-01-01' },
    token,
  )
  assert.is(write.status, 403)
  assert.ok(server.deps.tokens.list('demo').length >= 1)
  const producer = server.deps.store.db
    .prepare("SELECT count(*) AS tokens, count(revoked_at) AS revoked FROM tokens WHERE org = 'demo-producer'")
    .get()
  assert.equal(producer, { tokens: 4, revoked: 4 }, 'one a run, each revoked')
  assert.throws(() => server.deps.tokens.list('demo-producer'), /unknown org/)
})

test('without a server it says so in one line, after --wait seconds', async ({ env }) => {
  const port = String(await freePort())
  const result = await runCli(['demo', '--wait', '0'], { ...env, DACC_PORT: port })
  assert.is(result.code, 1)
  assert.match(
    result.stderr,
    new RegExp(
      `^Error: no DACC server is ready at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\): start it first \\(npm start, or dacc serve\\)\\n$`,
    ),
  )
  for (const [option, value] of [
    ['--months', '13'],
    ['--months', '0'],
    ['--wait', 'soon'],
  ]) {
    const bad = await runCli(['demo', option, value], env)
    assert.is(bad.code, 1)
    assert.match(
      bad.stderr,
      new RegExp(`^Error: ${option} must be a whole number from \\d+ to \\d+, got: ${value}\\n$`),
    )
  }
})

test.run()
