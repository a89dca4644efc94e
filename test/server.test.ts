import fs from 'node:fs'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createDefinitions } from '../src/definitions/definitions.ts'
import { openStore } from '../src/store/store.ts'
import { createTokens } from '../src/tokens/tokens.ts'
import { preparedDataDir, runCli, serveProcess, startTestServer, tempDir, type ServeProcess } from './helpers/server.ts'

const test = suite('dacc serve')

test('measures acknowledged before SIGTERM are there after a restart; logs never show the token', async () => {
  const dataDir = tempDir()
  const store = openStore(dataDir)
  const token = await createTokens(store, '').create('acme')
  const definitions = createDefinitions(store)
  const file = path.join(tempDir(), 'definitions.json')
  await import('node:fs').then((fs) =>
    fs.writeFileSync(file, JSON.stringify({ definitions: [{ name: 'm', aggregationThreshold: 1 }] })),
  )
  definitions.insertFile(file)
  store.close()

  const server = serveProcess(dataDir)
  const url = await server.url
  const post = (i: number) =>
    fetch(`${url}/measure`, {
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

/** Exits 1 saying one line, nothing else. */
async function failsInOneLine(server: ServeProcess, message: string): Promise<void> {
  assert.is(await server.exited, 1)
  assert.is(server.output(), `Error: ${message}\n`)
}

test('a port in use: one line, exit 1 within seconds, the engine and the socket released', async () => {
  const blocker = net.createServer().listen(0, '127.0.0.1')
  await new Promise((resolve) => blocker.once('listening', resolve))
  const { port } = blocker.address() as net.AddressInfo
  const dataDir = tempDir()
  try {
    const server = serveProcess(dataDir, { DACC_PORT: String(port), DACC_LOG_LEVEL: 'warn' })
    const started = Date.now()
    await failsInOneLine(server, `cannot listen on 127.0.0.1:${port}: the port is in use`)
    assert.ok(Date.now() - started < 10_000, 'exits within seconds')
    assert.not.ok(fs.existsSync(path.join(dataDir, 'dacc.sock')), 'no socket left')
    const migrate = await runCli(['migrate'], { DACC_DATA_DIR: dataDir })
    assert.equal([migrate.code, migrate.stderr], [0, ''], 'the data directory is free')
  } finally {
    blocker.close()
  }
})

test('an unreachable ClickHouse and a data directory in use: one line each, no log or stack of the client or the engine', async () => {
  const unreachable = serveProcess(tempDir(), { DACC_CLICKHOUSE_URL: 'http://127.0.0.1:9', DACC_LOG_LEVEL: 'warn' })
  await failsInOneLine(unreachable, 'cannot reach ClickHouse at http://127.0.0.1:9/: connect ECONNREFUSED 127.0.0.1:9')

  const dataDir = tempDir()
  const first = serveProcess(dataDir)
  await first.url
  try {
    const second = serveProcess(dataDir, { DACC_LOG_LEVEL: 'warn' })
    await failsInOneLine(
      second,
      `the embedded ClickHouse data directory ${dataDir}/clickhouse is in use by another process (a running dacc serve?)`,
    )
  } finally {
    first.child.kill('SIGTERM')
    assert.is(await first.exited, 0)
  }
})

test('SIGTERM with busy keep-alive clients: answers close their connections, exit 0, the socket removed', async () => {
  const { dataDir, token } = await preparedDataDir([{ name: 'm', aggregationThreshold: 1 }])
  const server = serveProcess(dataDir)
  const url = new URL(await server.url)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
  const closing: string[] = []
  let stopped = false
  const client = async () => {
    while (!stopped) {
      const answer = await new Promise<{ status?: number; connection?: string } | undefined>((resolve) => {
        const request = http.request(
          {
            host: url.hostname,
            port: url.port,
            path: '/measure',
            method: 'POST',
            agent,
            headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
          },
          (response) => {
            response.resume()
            response.on('end', () => resolve({ status: response.statusCode, connection: response.headers.connection }))
          },
        )
        request.on('error', () => resolve(undefined))
        request.end(JSON.stringify({ measureName: 'm', value: 1, startDate: '2022-01-01' }))
      })
      if (answer === undefined) return // the server is gone
      if (answer.connection === 'close') closing.push(String(answer.status))
    }
  }
  const clients = [client(), client(), client(), client()]
  // And one request surely being answered when the stop begins: its body is still on its way.
  const body = JSON.stringify({ measureName: 'm', value: 1, startDate: '2022-01-01' })
  const slow = http.request({
    host: url.hostname,
    port: url.port,
    path: '/measure',
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'Content-Length': Buffer.byteLength(body),
      Authorization: `Bearer ${token}`,
    },
  })
  const slowAnswer = new Promise<{ status?: number; connection?: string }>((resolve, reject) => {
    slow.on('response', (response) => {
      response.resume()
      response.on('end', () => resolve({ status: response.statusCode, connection: response.headers.connection }))
    })
    slow.on('error', reject)
  })
  slow.write(body.slice(0, 5))
  await new Promise((resolve) => setTimeout(resolve, 500))
  const started = Date.now()
  server.child.kill('SIGTERM')
  // The stop has begun once the port refuses connections; then the slow request's body ends.
  const refused = () =>
    new Promise<boolean>((resolve) => {
      const socket = net.connect(Number(url.port), url.hostname)
      socket.once('connect', () => resolve(false)).once('error', () => resolve(true))
      socket.once('connect', () => socket.destroy())
    })
  while (!(await refused())) await new Promise((resolve) => setTimeout(resolve, 10))
  slow.end(body.slice(5))
  assert.equal(await slowAnswer, { status: 201, connection: 'close' }, 'answered, closing its connection')
  const code = await server.exited
  stopped = true
  await Promise.all(clients)
  agent.destroy()
  assert.is(code, 0)
  assert.ok(Date.now() - started < 10_000, 'within 10 s')
  assert.ok(
    closing.every((status) => status === '201'),
    `answers during the stop: ${closing.join(', ')}`,
  )
  assert.not.ok(fs.existsSync(path.join(dataDir, 'dacc.sock')), 'the socket is removed')
})

test('whatever the umask, the data directory is 0700 and the stores 0600; an open directory is tightened, with a log line', async () => {
  const fresh = path.join(tempDir(), 'data')
  const created = await runCli(['token', 'create', 'acme'], { DACC_DATA_DIR: fresh })
  assert.is(created.code, 0, created.stderr)
  const mode = (file: string) => (fs.statSync(file).mode & 0o777).toString(8)
  assert.equal([mode(fresh), mode(path.join(fresh, 'dacc.sqlite'))], ['700', '600'])

  const open = tempDir()
  fs.chmodSync(open, 0o755)
  const server = serveProcess(open)
  await server.url
  server.child.kill('SIGTERM')
  assert.is(await server.exited, 0)
  assert.match(server.output(), /"msg":"the data directory was readable by others: now 0700"/)
  const files = fs
    .readdirSync(open, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(sqlite|tsv)$/.test(entry.name))
  assert.ok(files.length >= 2)
  assert.equal(
    [mode(open), ...files.map((entry) => mode(path.join(entry.parentPath, entry.name)))],
    ['700', ...files.map(() => '600')],
  )
})

test.run()
