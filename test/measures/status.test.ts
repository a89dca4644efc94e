import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startTestServer, type TestServer } from '../helpers/server.ts'

// GET /status reports the write path: ko (503) while measures cannot be written to the journal,
// degraded (200: the instance still takes them) while they cannot be loaded into ClickHouse, ok
// again once they can. A directory is made read-only for real: chattr
// +i as root (whom permissions do not stop), chmod otherwise.
type Context = { server: TestServer; token: string }
const test = suite<Context>('GET /status and the write path', {} as Context)

const root = process.getuid?.() === 0
function readOnly(dir: string, on: boolean): void {
  if (root) execFileSync('chattr', [on ? '+i' : '-i', dir])
  else fs.chmodSync(dir, on ? 0o555 : 0o700)
}

test.before(async (context) => {
  context.server = await startTestServer()
  context.server.define({ name: 'm', aggregationThreshold: 1, accessApp: true })
  context.token = await context.server.token()
})
test.after(async ({ server }) => server.close())

const post = ({ server, token }: Context) =>
  server.post('/measure', { measureName: 'm', value: 1, startDate: '2022-01-01' }, token)
const status = async ({ server }: Context) => {
  const response = await fetch(`${server.url}/status`)
  const body = (await response.json()) as {
    writes: { status: string; error?: string; backlog?: number }
    global_status: string
  }
  return { code: response.status, writes: body.writes, global: body.global_status }
}
const until = async (check: () => Promise<boolean>, what: string) => {
  for (const deadline = Date.now() + 10_000; !(await check()); ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

test('a journal that cannot be written: 503 to producers and ko, then ok again', async (context) => {
  assert.is((await post(context)).status, 201)
  await context.server.settled()
  assert.equal(await status(context), { code: 200, writes: { status: 'ok', backlog: 0 }, global: 'ok' })

  const journal = context.server.config.ingest.journalDir
  readOnly(journal, true)
  try {
    const refused = await post(context)
    assert.is(refused.status, 503)
    assert.equal(await refused.json(), { error: 'The measures could not be stored, retry later' })
    const { code, writes, global } = await status(context)
    assert.equal([code, writes.status, global], [503, 'ko', 'ko'])
    assert.match(writes.error!, /^writing the journal failed: /)
  } finally {
    readOnly(journal, false)
  }
  assert.is((await post(context)).status, 201)
  await context.server.settled()
  assert.equal(await status(context), { code: 200, writes: { status: 'ok', backlog: 0 }, global: 'ok' })
})

test('ClickHouse refusing the loads: measures are still acknowledged, degraded with the backlog, then ok once loaded', async (context) => {
  // The directories of the raw table's parts: the loads' INSERTs fail there.
  const { dataDir } = context.server.config
  const [table] = await context.server.query<{ path: string }>(
    "SELECT data_paths[1] AS path FROM system.tables WHERE name = 'raw_measures' AND database = currentDatabase()",
  )
  const tableDir = path.resolve(dataDir, 'clickhouse', table.path)
  readOnly(tableDir, true)
  try {
    assert.is((await post(context)).status, 201, 'acknowledged from the journal')
    await until(async () => (await status(context)).writes.status === 'degraded', 'the write path to turn degraded')
    const { code, writes, global } = await status(context)
    assert.equal([code, global], [200, 'degraded'], 'the instance still takes writes: load balancers keep it')
    assert.match(writes.error!, /^loading into ClickHouse fails \(for \d+ s, 1 measures waiting\): /)
    assert.is(writes.backlog, 1)
    assert.is((await post(context)).status, 201, 'still acknowledged')
    const answer = await context.server.post(
      '/aggregate',
      { measureName: 'm', startDate: '2022-01-01', endDate: '2022-01-02' },
      context.token,
    )
    assert.equal(((await answer.json()) as { count: number }[])[0].count, 4, 'answers hold them meanwhile')
  } finally {
    readOnly(tableDir, false)
  }
  await until(async () => (await status(context)).global === 'ok', 'the write path to recover')
  await context.server.settled()
  assert.equal((await status(context)).writes, { status: 'ok', backlog: 0 }, 'loaded, nothing set aside')
})

test.run()
