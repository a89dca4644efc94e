import fs from 'node:fs'
import path from 'node:path'
import * as assert from 'uvu/assert'
import { mirrorDefinitions, mirrorSource } from '../../src/definitions/mirror.ts'
import { freePort } from './ports.ts'
import { capturingLogger, startTestServer, tempDir, type TestServer } from './server.ts'

export type SqlServer = {
  server: TestServer
  /** The SQL interface's URL (http://127.0.0.1:port/). */
  url: string
  /** The server's log lines, as they come. */
  lines: Record<string, unknown>[]
  /** Tokens by reach: sql:public, sql:raw, and one with the API's scopes only. */
  tokens: { public: string; raw: string; api: string }
}

/**
 * Published: `visits` (threshold 3): device a has 3 measures, b 1 (under the threshold, never to
 * be seen through sql:public). Not published: `secret` (no access flag).
 */
export const DEFINITIONS = [
  { name: 'visits', group1Key: 'device', aggregationThreshold: 3, accessPublic: true, withQuartiles: true },
  { name: 'secret', aggregationThreshold: 1 },
]
export const MEASURES = [
  { measureName: 'visits', value: 1, startDate: '2022-01-01', group1: { device: 'a' } },
  { measureName: 'visits', value: 2.555, startDate: '2022-01-01', group1: { device: 'a' } },
  { measureName: 'visits', value: 4, startDate: '2022-01-01', group1: { device: 'a' } },
  { measureName: 'visits', value: 777, startDate: '2022-01-01', group1: { device: 'b' } },
  { measureName: 'visits', value: 5, startDate: '2022-01-02', group1: { device: 'a' } },
  { measureName: 'visits', value: 6, startDate: '2022-01-02', group1: { device: 'a' } },
  { measureName: 'visits', value: 7, startDate: '2022-01-02', group1: { device: 'a' } },
  { measureName: 'secret', value: 4242, startDate: '2022-01-01' },
]

/** A test server with its SQL interface on, the definitions and measures above loaded and mirrored. */
export async function startSqlServer(sql: Record<string, unknown> = {}): Promise<SqlServer> {
  const { logger, lines } = capturingLogger()
  const server = await startTestServer({ sql: { port: await freePort(), ...sql } }, logger)
  server.define(...DEFINITIONS)
  await mirrorDefinitions(server.deps.clickhouse.client, mirrorSource(server.deps.store))
  const writer = await server.token(['measure:write'])
  const response = await server.post('/measures', MEASURES, writer)
  assert.is(response.status, 201, await response.text())
  await server.settled()
  return {
    server,
    url: server.sqlUrl!,
    lines,
    tokens: {
      public: await server.token(['sql:public']),
      raw: await server.token(['sql:raw']),
      api: await server.token(['measure:write', 'aggregate:read']),
    },
  }
}

export type Answer = { status: number; headers: Headers; body: Buffer; text: string }

/** A request as curl sends it: the query in the URL, or (with `body`) POSTed; the token as HTTP Basic's password. */
export async function ask(
  url: string,
  query: string | undefined,
  options: { token?: string; search?: Record<string, string>; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  const target = new URL(url)
  if (query !== undefined) target.searchParams.set('query', query)
  for (const [name, value] of Object.entries(options.search ?? {})) target.searchParams.set(name, value)
  const headers: Record<string, string> = { ...options.headers }
  if (options.token) headers.Authorization = `Basic ${Buffer.from(`analyst:${options.token}`).toString('base64')}`
  const response = await fetch(target, {
    method: options.body === undefined ? 'GET' : 'POST',
    headers,
    body: options.body,
  })
  const body = Buffer.from(await response.arrayBuffer())
  return { status: response.status, headers: response.headers, body, text: body.toString('utf8') }
}

/** Asserts ClickHouse's error answer: the status, `Code: N. DB::Exception: ... (NAME) (version ...)`, X-ClickHouse-Exception-Code. */
export function assertError(answer: Answer, status: number, code: number, type: string, message?: RegExp): void {
  assert.is(answer.status, status, answer.text)
  assert.is(answer.headers.get('x-clickhouse-exception-code'), String(code), answer.text)
  assert.match(
    answer.text,
    new RegExp(`^Code: ${code}\\. DB::Exception: .+\\. \\(${type}\\) \\(version [\\d.]+\\)\\n$`),
  )
  if (message) assert.match(answer.text, message)
}

/** The log line of the query with this id. */
export function logLine(lines: Record<string, unknown>[], queryId: string): Record<string, unknown> {
  const found = lines.filter((line) => line.queryId === queryId)
  assert.is(found.length, 1, `one log line for ${queryId}: ${JSON.stringify(found)}`)
  return found[0]
}

/** A path where nothing exists yet, for queries that would write a file. */
export const unwrittenFile = (name: string) => path.join(tempDir('dacc-sql-attack-'), name)
export const exists = (file: string) => fs.existsSync(file)
