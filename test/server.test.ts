import { spawn } from 'node:child_process'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createDefinitions } from '../src/definitions/definitions.ts'
import { openStore } from '../src/store/store.ts'
import { createTokens } from '../src/tokens/tokens.ts'
import { ROOT, startTestServer, tempDir } from './helpers/server.ts'

const test = suite('dacc serve')

/** Starts the real `dacc serve` in a child process; resolves with its URL once it listens. */
function serve(dataDir: string) {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/dacc.js'), 'serve'], {
    env: { PATH: process.env.PATH, DACC_DATA_DIR: dataDir, DACC_PORT: '0', DACC_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  const url = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      output += chunk
      const port = /"port":(\d+)/.exec(output)?.[1]
      if (port) resolve(`http://127.0.0.1:${port}`)
    })
    exited.then(() => reject(new Error(`serve exited: ${output}`)))
  })
  return { child, url, exited, output: () => output }
}

test('measures acknowledged before SIGTERM are there after a restart; logs never show the token', async () => {
  const dataDir = tempDir()
  const store = openStore(dataDir)
  const token = await createTokens(store, '').create('acme')
  const definitions = createDefinitions(store)
  const file = path.join(tempDir(), 'definitions.json')
  await import('node:fs').then((fs) => fs.writeFileSync(file, JSON.stringify({ definitions: [{ name: 'm', aggregationThreshold: 1 }] })))
  definitions.insertFile(file)
  store.close()

  const server = serve(dataDir)
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

test('a second process on the same embedded data directory is refused in one line', async () => {
  const dataDir = tempDir()
  const server = serve(dataDir)
  await server.url
  try {
    const { runCli } = await import('./helpers/server.ts')
    const { code, stderr } = await runCli(['migrate'], { DACC_DATA_DIR: dataDir })
    assert.is(code, 1)
    assert.match(stderr, /Error: the embedded ClickHouse data directory .* is in use by another process/)
  } finally {
    server.child.kill('SIGTERM')
    await server.exited
  }
})

test.run()
