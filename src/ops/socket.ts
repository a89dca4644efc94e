import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { Readable } from 'node:stream'
import { firstLine } from '../errors.ts'
import { ConfigError, type Config } from '../config.ts'
import { UsageError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import {
  isJournalOperation,
  isOperation,
  type JournalOperationName,
  type OperationName,
  type RunAny,
} from './operations.ts'

/**
 * The CLI's way into a running `dacc serve`, which alone may open the embedded data directory:
 * HTTP over a Unix socket in that directory, `POST /<operation>` with the JSON arguments, answered
 * `{"result": ...}` or `{"error": "<one line>"}` (400 for a usage error, 500 otherwise). An
 * operation whose result is a stream (`dacc sql`'s rows) is answered as a stream of bytes, and a
 * failure midway in its trailer (X-Error, X-Error-Kind): it may be far too large to hold. Mode
 * 0600: only the directory's owner may ask. The public HTTP port never offers this.
 */
export const socketPath = (dir: string) => path.join(dir, 'dacc.sock')

/**
 * Where a server's socket is: in the embedded data directory, which one process holds; on a
 * ClickHouse server, in the instance's own journal directory (instances may share a data
 * directory for their SQLite store: docker-compose.cluster.yml).
 */
export const socketOf = (config: Pick<Config, 'dataDir' | 'clickhouse' | 'ingest'>) =>
  socketPath(config.clickhouse.url ? config.ingest.journalDir : config.dataDir)

// The longest Unix socket path (macOS; Linux allows 107 bytes). A longer one is cut silently.
const MAX_SOCKET_PATH = 103

export type OperationsServer = { close(): Promise<void> }

/** Listens on `file` and runs the operations the CLI asks for with `run`. */
export async function serveOperations(file: string, run: RunAny, logger: Logger): Promise<OperationsServer> {
  if (Buffer.byteLength(file) > MAX_SOCKET_PATH) {
    throw new ConfigError(
      `dataDir is too long for the CLI socket ${file} (at most ${MAX_SOCKET_PATH} bytes): choose a shorter one`,
    )
  }
  // This process already holds the lock of the directory (the embedded engine's, or the journal's),
  // so no other server runs here: a socket file left there belongs to a server that was killed.
  fs.rmSync(file, { force: true })
  const server = http.createServer(async (request, response) => {
    const name = (request.url ?? '').slice(1)
    const started = performance.now()
    let status = 200
    let body: { result: unknown } | { error: string }
    try {
      if (request.method !== 'POST' || !(isOperation(name) || isJournalOperation(name)))
        throw new UsageError(`unknown operation: ${request.method} ${name}`)
      const result = await run(name, JSON.parse(await readBody(request)))
      if (result instanceof Readable) return await streamed(result, response, name, started, logger)
      body = { result }
      logger.info({ operation: name, ms: Math.round(performance.now() - started) }, 'operation run for the CLI')
    } catch (err) {
      status = err instanceof UsageError ? 400 : 500
      body = { error: firstLine(err) }
      logger.warn({ operation: name, error: body.error }, 'operation for the CLI failed')
    }
    response.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(file, resolve)
  })
  fs.chmodSync(file, 0o600)
  // Closing the server removes the socket file.
  return { close: () => new Promise((resolve) => server.close(() => resolve())) }
}

/** Sends a stream result, its failure (if any) in the trailer; the CLI gone (`dacc sql | head`), it is destroyed. */
async function streamed(
  result: Readable,
  response: http.ServerResponse,
  name: string,
  started: number,
  logger: Logger,
): Promise<void> {
  response.writeHead(200, { 'Content-Type': STREAM, Trailer: 'X-Error, X-Error-Kind' })
  response.on('close', () => result.destroy())
  try {
    for await (const chunk of result) {
      if (!response.write(chunk)) await new Promise((resolve) => response.once('drain', resolve))
    }
    logger.info({ operation: name, ms: Math.round(performance.now() - started) }, 'operation run for the CLI')
  } catch (err) {
    response.addTrailers({
      'X-Error': encodeURIComponent(firstLine(err)),
      'X-Error-Kind': err instanceof UsageError ? 'usage' : 'internal',
    })
    logger.warn({ operation: name, error: firstLine(err) }, 'operation for the CLI failed')
  }
  response.end()
}

const STREAM = 'application/octet-stream'

/**
 * Asks the server listening on `file` to run an operation: `{ result }`, or null when no server
 * listens there (no socket file, or a stale one left by a killed server: connection refused).
 */
export async function askServer(
  file: string,
  name: OperationName | JournalOperationName,
  args: unknown,
): Promise<{ result: unknown } | null> {
  let response: http.IncomingMessage
  try {
    response = await new Promise((resolve, reject) => {
      // No keep-alive agent: one request, then the CLI exits.
      const request = http.request({ socketPath: file, path: `/${name}`, method: 'POST', agent: false }, resolve)
      request.once('error', reject)
      request.end(JSON.stringify(args ?? {}))
    })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ECONNREFUSED') return null
    throw err
  }
  if (response.statusCode === 200 && response.headers['content-type'] === STREAM)
    return { result: Readable.from(withTrailer(response)) }
  const body = JSON.parse(await readBody(response)) as { result?: unknown; error?: string }
  if (response.statusCode === 200) return { result: body.result }
  throw response.statusCode === 400 ? new UsageError(String(body.error)) : new Error(String(body.error))
}

/** A streamed answer's bytes, then the failure its trailer tells, if any. */
async function* withTrailer(response: http.IncomingMessage): AsyncGenerator<Buffer> {
  yield* response
  const error = response.trailers['x-error']
  if (error === undefined) return
  const message = decodeURIComponent(error)
  throw response.trailers['x-error-kind'] === 'usage' ? new UsageError(message) : new Error(message)
}

async function readBody(stream: AsyncIterable<Buffer>): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk)
  return Buffer.concat(chunks).toString('utf8')
}
