import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { loadConfig, type Config } from '../../src/config.ts'
import { createDefinitions } from '../../src/definitions/definitions.ts'
import type { Definition } from '../../src/definitions/schema.ts'
import { createLogger, type Logger } from '../../src/logger.ts'
import { startServer, type RunningServer } from '../../src/server.ts'
import { ROOT } from '../../src/root.ts'
import { openStore } from '../../src/store/store.ts'
import type { Scope } from '../../src/tokens/scopes.ts'
import { createTokens } from '../../src/tokens/tokens.ts'

export { ROOT }

/** A logger whose lines land in `lines`. */
export function capturingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = []
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)))
      done()
    },
  })
  return { logger: pino({ level: 'info', base: undefined, timestamp: false }, stream), lines }
}

export function tempDir(prefix = 'dacc-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

/** A config for tests: nothing read from the environment or a file, the given values on top. */
export function testConfig(overrides: Record<string, unknown> = {}): Config {
  // No metrics listener unless asked for: its default port would be shared by the servers of parallel test files.
  return loadConfig({
    env: {},
    file: undefined,
    overrides: {
      dataDir: tempDir(),
      port: 0,
      metrics: { port: 0 },
      log: { level: 'silent' },
      aggregate: { maxStalenessMs: 0 },
      ingest: { maxBatchDelayMs: 5 },
      ...overrides,
    },
  })
}

export type TestServer = RunningServer & {
  config: Config
  /** A valid token with every scope (or the given ones). */
  token(scopes?: Scope[]): Promise<string>
  define(...definitions: Partial<Definition>[]): void
  post(route: string, body: unknown, token?: string, headers?: Record<string, string>): Promise<Response>
  /** Resolves once every measure acknowledged so far is loaded into ClickHouse. */
  settled(): Promise<void>
  /** Rows of a ClickHouse query on the server's own client, once the measures acknowledged so far are loaded. */
  query<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]>
}

/** A real server on a random port, with embedded ClickHouse and SQLite in a fresh temp dir. */
export async function startTestServer(
  overrides: Record<string, unknown> = {},
  logger: Logger = createLogger('silent'),
): Promise<TestServer> {
  const config = testConfig(overrides)
  const server = await startServer(config, logger)
  const { deps } = server
  return {
    ...server,
    config,
    token: (scopes) => deps.tokens.create('test-org', scopes),
    define(...definitions) {
      const file = path.join(tempDir(), 'definitions.json')
      fs.writeFileSync(file, JSON.stringify({ definitions }))
      deps.definitions.insertFile(file)
    },
    post: (route, body, token, headers = {}) =>
      fetch(server.url + route, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          ...(token ? { Authorization: `Bearer ${token}` } : {}),
          ...headers,
        },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    settled: () => settled(server),
    async query(sql, params) {
      await settled(server)
      const result = await deps.clickhouse.client.query({ query: sql, query_params: params, format: 'JSONEachRow' })
      return result.json()
    },
  }
}

/** Waits (up to 10 s) until the server's journal is loaded into ClickHouse. */
export async function settled(server: RunningServer): Promise<void> {
  for (const deadline = Date.now() + 10_000; server.deps.writer.backlog > 0; ) {
    if (Date.now() > deadline)
      throw new Error(`the journal is still not loaded: ${server.deps.writer.backlog} measures waiting`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/**
 * A data directory with definitions and a token made beforehand (SQLite only), for tests that run
 * `dacc serve` in a child process.
 */
export async function preparedDataDir(
  definitions: Partial<Definition>[],
  dataDir = tempDir(),
): Promise<{ dataDir: string; token: string }> {
  const store = openStore(dataDir)
  try {
    const file = path.join(tempDir(), 'definitions.json')
    fs.writeFileSync(file, JSON.stringify({ definitions }))
    createDefinitions(store).insertFile(file)
    return { dataDir, token: await createTokens(store, '').create('acme') }
  } finally {
    store.close()
  }
}

/**
 * The status of a POST to a `dacc serve` child with a bearer token (and an Idempotency-Key), or 0
 * when it got no answer (refused, cut, timed out): what a producer sees of a crash.
 */
export function postStatus(
  url: string,
  token: string,
  body: unknown,
  key?: string,
  timeoutMs = 30_000,
): Promise<number> {
  return fetch(url, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Authorization: `Bearer ${token}`,
      ...(key ? { 'Idempotency-Key': key } : {}),
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  }).then(
    (response) => response.status,
    () => 0,
  )
}

export type CliResult = { code: number | null; stdout: string; stderr: string }

/** Runs the real `bin/dacc.js` in a child process. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/dacc.js'), ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      cwd: tempDir('dacc-cwd-'),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}

export type ServeProcess = {
  child: ChildProcess
  url: Promise<string>
  exited: Promise<number | null>
  output(): string
}

/** Starts the real `dacc serve` in a child process; `url` resolves once it listens. */
export function serveProcess(dataDir: string, env: Record<string, string> = {}): ServeProcess {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/dacc.js'), 'serve'], {
    env: {
      PATH: process.env.PATH,
      DACC_DATA_DIR: dataDir,
      DACC_PORT: '0',
      DACC_METRICS_PORT: '0',
      DACC_LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve))
  const url = new Promise<string>((resolve, reject) => {
    const read = (chunk: Buffer) => {
      output += chunk
      const port = /"port":(\d+)/.exec(output)?.[1]
      if (port) resolve(`http://127.0.0.1:${port}`)
    }
    child.stdout.on('data', read)
    child.stderr.on('data', read)
    exited.then(() => reject(new Error(`serve exited: ${output}`)))
  })
  url.catch(() => undefined) // a test of a failing start does not wait for the URL
  return { child, url, exited, output: () => output }
}

/** The rows of a query on a data directory's embedded ClickHouse, opened here once its server has stopped. */
export async function queryStopped<T = Record<string, unknown>>(dataDir: string, query: string): Promise<T[]> {
  const { openClickHouse } = await import('../../src/clickhouse/client.ts')
  const clickhouse = await openClickHouse(loadConfig({ env: {}, overrides: { dataDir } }))
  try {
    return await (await clickhouse.client.query({ query, format: 'JSONEachRow' })).json<T>()
  } finally {
    await clickhouse.close()
  }
}
