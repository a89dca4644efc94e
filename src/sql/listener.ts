import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { openClickHouse } from '../clickhouse/client.ts'
import type { Config } from '../config.ts'
import { firstLine } from '../errors.ts'
import { close, listen } from '../http/listen.ts'
import type { Logger } from '../logger.ts'
import type { Tokens } from '../tokens/tokens.ts'
import type { Access } from './check.ts'
import { embeddedSession, type SqlSession } from './engine.ts'
import { fromEngine, SqlError } from './errors.ts'
import { Pool } from './pool.ts'
import { readRequest, type SqlRequest } from './request.ts'
import { sendError, sendOutput, type Identity, type Sent } from './respond.ts'
import { startQuery, type Running } from './run.ts'
import { querySettings, type Limits } from './settings.ts'

export type SqlListener = {
  /** http://host:port/ */
  url: string
  close(): Promise<void>
}

/** How long past its own limit a query's answer may take (a client that stopped reading): then it is cut. */
const GRACE_MS = 10_000

/**
 * The read-only ClickHouse-compatible HTTP interface for data engineers, on a listener of its own
 * (sql.host, sql.port), for the embedded engine: ClickHouse's clients, Grafana, Superset or
 * DBeaver connect to it as to a ClickHouse server, with a DACC token of scope sql:public or
 * sql:raw as password. Each query runs on an engine session of its own among
 * sql.maxConcurrentQueries (a failed embedded query leaves its output to its session's next
 * query: never one of the service's), checked as `dacc sql`'s are (src/sql/check.ts), with limits
 * the client cannot raise, and is logged in one line: token id, query id, its shape without its
 * literals (they may hold anything), rows, bytes, time.
 */
export async function serveSql(config: Config, tokens: Tokens, logger: Logger): Promise<SqlListener> {
  const { sql } = config
  const sessions: SqlSession[] = []
  const closers: (() => Promise<void>)[] = []
  try {
    for (let i = 0; i < sql.maxConcurrentQueries; i++) {
      const clickhouse = await openClickHouse(config)
      closers.push(() => clickhouse.close())
      if (!clickhouse.chdb) throw new Error('the SQL interface needs the embedded engine')
      const session = embeddedSession(clickhouse.chdb)
      closers.push(() => session.close())
      sessions.push(session)
    }
    const pool = new Pool(sessions)
    const [[version, timezone]] = (await sessions[0].explain('SELECT version(), timezone()')) as [string, string][]
    const limits: Limits = {
      maxExecutionSeconds: sql.maxExecutionSeconds,
      maxResultRows: sql.maxResultRows,
      maxResultBytes: sql.maxResultMb * 2 ** 20,
      maxMemoryBytes: sql.maxMemoryMb * 2 ** 20,
      maxThreads: sql.maxThreads,
    }
    const context = { database: config.clickhouse.database, version, timezone, limits, tokens, pool, logger }
    const server = http.createServer((request, response) => {
      answer(context, request, response).catch((err: unknown) => {
        logger.error({ err }, 'SQL interface: an answer failed')
        response.destroy()
      })
    })
    await listen(server, sql.host, sql.port, ' for SQL (sql.host, sql.port; port 0 turns it off)')
    const { port } = server.address() as AddressInfo
    return {
      url: `http://${sql.host.includes(':') ? `[${sql.host}]` : sql.host}:${port}/`,
      close: async () => {
        // Answers in flight are cut; their queries are not waited for (one may compute for
        // sql.maxExecutionSeconds, past a stop's 10 s): the engine closes a session once the
        // query on it is done, whenever that is.
        server.closeAllConnections()
        await close(server)
        void pool.drain()
        for (const closer of closers.reverse()) await closer()
      },
    }
  } catch (err) {
    for (const closer of closers.reverse()) await closer().catch(() => undefined)
    throw err
  }
}

type Context = {
  database: string
  version: string
  timezone: string
  limits: Limits
  tokens: Tokens
  pool: Pool<SqlSession>
  logger: Logger
}

async function answer(context: Context, request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
  const started = performance.now()
  const url = new URL(request.url ?? '/', 'http://localhost')
  const identity: Identity = { queryId: '', version: context.version, timezone: context.timezone }
  // Health checks, as ClickHouse answers them.
  if (url.pathname === '/ping' || (url.pathname === '/' && request.method === 'GET' && !url.searchParams.has('query')))
    return void response.writeHead(200, { 'Content-Type': 'text/html; charset=UTF-8' }).end('Ok.\n')
  if (url.pathname !== '/')
    return void response
      .writeHead(404, { 'Content-Type': 'text/plain; charset=UTF-8' })
      .end(`There is no handle ${url.pathname}\n\nUse / or /ping for health checks.\n`)
  if (request.method !== 'GET' && request.method !== 'POST')
    return sendError(
      response,
      new SqlError('UNSUPPORTED_METHOD', `HTTP method ${request.method} is not allowed`),
      identity,
    )

  // `ran`: whether the statement reached the engine to run (a refused one never does).
  const log: Record<string, unknown> = { ran: false }
  let sent: Sent | undefined
  let error: SqlError | undefined
  try {
    const query = await readRequest(request, url)
    identity.queryId = query.queryId
    const access = await authorize(context, query, log)
    if (query.database && query.database !== context.database && query.database !== 'default')
      throw new SqlError(
        'UNKNOWN_DATABASE',
        `Database ${query.database} does not exist: the DACC database is ${context.database}`,
      )
    const settings = querySettings(context.limits, query.entries)
    const slot = await context.pool.acquire()
    if (!slot)
      throw new SqlError(
        'TOO_MANY_SIMULTANEOUS_QUERIES',
        `Too many simultaneous queries: at most ${context.pool.size} run at once`,
      )
    let running: Running | undefined
    try {
      running = await startQuery(slot.item, query.query, {
        policy: {
          access,
          database: context.database,
          where: 'the SQL interface',
          formatClause: true,
          limits: settings.checks,
        },
        format: query.format,
        settings: settings.clause,
        params: query.params,
      })
      Object.assign(log, {
        ran: true,
        kind: running.checked.kind,
        format: running.format,
        shape: running.checked.shape,
      })
      sent = await streamed(context, response, running, query, identity, started)
      error = sent.error
    } finally {
      // The session serves its next query once this one is done, parameters emptied.
      await running?.output.finished.catch(() => undefined)
      slot.release()
    }
  } catch (err) {
    error = fromEngine(err)
    if (!response.headersSent) sendError(response, error, identity)
    else response.destroy()
  }
  context.logger.info(
    {
      queryId: identity.queryId,
      ...log,
      rows: sent?.rows ?? 0,
      bytes: sent?.bytes ?? 0,
      ms: Math.round(performance.now() - started),
      ...(error ? { code: error.code, error: firstLine(error) } : {}),
    },
    error ? 'sql query failed' : 'sql query',
  )
}

/** The token's reach: sql:raw, else sql:public; a missing, unknown or revoked token, or neither scope, refused. */
async function authorize(context: Context, query: SqlRequest, log: Record<string, unknown>): Promise<Access> {
  if (!query.token)
    throw new SqlError(
      'REQUIRED_PASSWORD',
      'a DACC token is required: send it as the password of HTTP Basic authentication or in the X-ClickHouse-Key header',
    )
  const claims = await context.tokens.verify(query.token)
  if (!claims)
    throw new SqlError('AUTHENTICATION_FAILED', 'Authentication failed: the token is unknown, expired or revoked')
  log.token = claims.tokenId
  if (claims.scopes.includes('sql:raw')) return (log.access = 'raw')
  if (claims.scopes.includes('sql:public')) return (log.access = 'public')
  throw new SqlError(
    'ACCESS_DENIED',
    'Not enough privileges: this token has neither the sql:public nor the sql:raw scope',
  )
}

/**
 * Sends the output. A client gone, or one that stops reading past the query's own time limit, is
 * cut and the engine's writes stopped: the session is never held past the query's time limit.
 */
async function streamed(
  context: Context,
  response: http.ServerResponse,
  running: Running,
  query: SqlRequest,
  identity: Identity,
  started: number,
): Promise<Sent> {
  const { output, format } = running
  const stop = () => {
    output.cancel()
    response.destroy()
  }
  const deadline = setTimeout(stop, context.limits.maxExecutionSeconds * 1000 + GRACE_MS)
  response.once('close', () => {
    if (!response.writableFinished) output.cancel()
  })
  try {
    return await sendOutput(response, output, format, identity, query.compression, started)
  } catch (err) {
    stop()
    throw err
  } finally {
    clearTimeout(deadline)
  }
}
