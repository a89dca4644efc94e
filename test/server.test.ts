import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createDefinitions } from '../src/definitions/definitions.ts'
import { openStore } from '../src/store/store.ts'
import { createTokens } from '../src/tokens/tokens.ts'
import { serveProcess, startTestServer, tempDir } from './helpers/server.ts'

const test = suite('dacc serve')

test('measures acknowledged before SIGTERM are there after a restart; logs never show the token', async () => {
  const dataDir = tempDir()
  const store = openStore(dataDir)
  const token = await createTokens(store, '').create('acme')
  const definitions = createDefinitions(store)
  const file = path.join(tempDir(), 'definitions.json')
  await import('node:fs').then((fs) => fs.writeFileSync(file, JSON.stringify({ definitions: [{ name: 'm', aggregationThreshold: 1 }] })))
  definitions.insertFile(file)
  store.close()

  const server = serveProcess(dataDir)
  const url = await server.url
  const post = (i: number) =>
    fetch(url + '/measure', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify({ measureName: 'm', value: i, startDate: '2022-01-01' }),
    }).then((response) => response.status)
  const statuses = await Promise.all(Array.from({ length: 300 }, (_, i) => post(i)))
  assert.ok(statuses.every((status) => status === 201))
  const started = Date.now()
  server.child.kill('SIGTERM')
  assert.is(await server.exited, 0)
  assert.ok(Date.now() - started < 10_000, 'exits within 10 s')
  assert.not.ok(server.output().includes(token), 'the token is never logged')
  assert.match(server.output(), /"path":"\/measure","status":201/)

  const restarted = await startTestServer({ dataDir })
  try {
    const [row] = await restarted.query("SELECT count() AS n FROM raw_measures WHERE measure_name = 'm'")
    assert.is(row.n, 300)
    const [aggregated] = await restarted.query("SELECT sum(count) AS n FROM aggregates WHERE measure_name = 'm'")
    assert.is(aggregated.n, 300)
  } finally {
    await restarted.close()
  }
})

test.run()
