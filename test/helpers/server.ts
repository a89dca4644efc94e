import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadConfig, type Config } from '../../src/config.ts'
import type { Definition } from '../../src/definitions/schema.ts'
import { createLogger } from '../../src/logger.ts'
import { startServer, type RunningServer } from '../../src/server.ts'

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..')

export function tempDir(prefix = 'dacc-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix))
}

/** A config for tests: nothing read from the environment or a file, the given values on top. */
export function testConfig(overrides: Record<string, unknown> = {}): Config {
  return loadConfig({ env: {}, file: undefined, overrides: { dataDir: tempDir(), port: 0, log: { level: 'silent' }, aggregate: { maxStalenessMs: 0 }, ...overrides } })
}

export type TestServer = RunningServer & {
  config: Config
  /** A valid token with every scope (or the given ones). */
  token(scopes?: ('measure:write' | 'aggregate:read')[]): Promise<string>
  define(...definitions: Partial<Definition>[]): void
  post(route: string, body: unknown, token?: string, headers?: Record<string, string>): Promise<Response>
  /** Rows of a ClickHouse query on the server's own client. */
  query<T = Record<string, unknown>>(sql: string, params?: Record<string, unknown>): Promise<T[]>
}

/** A real server on a random port, with embedded ClickHouse and SQLite in a fresh temp dir. */
export async function startTestServer(overrides: Record<string, unknown> = {}): Promise<TestServer> {
  const config = testConfig(overrides)
  const server = await startServer(config, createLogger('silent'))
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
        headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    async query(sql, params) {
      const result = await deps.clickhouse.client.query({ query: sql, query_params: params, format: 'JSONEachRow' })
      return result.json()
    },
  }
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

export type ServeProcess = { child: ChildProcess; url: Promise<string>; exited: Promise<number | null>; output(): string }

/** Starts the real `dacc serve` in a child process; `url` resolves once it listens. */
export function serveProcess(dataDir: string): ServeProcess {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/dacc.js'), 'serve'], {
    env: { PATH: process.env.PATH, DACC_DATA_DIR: dataDir, DACC_PORT: '0', DACC_LOG_LEVEL: 'info' },
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
  return { child, url, exited, output: () => output }
}
