import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { PassThrough, type Readable } from 'node:stream'
import type { ChdbExtension } from 'chdb/connection'
import type { ClickHouseClient } from '../clickhouse/client.ts'
import { sqlString, type Explain } from './check.ts'
import { fromEngine, SqlError } from './errors.ts'

/** A statement's output, as the engine writes it. */
export type Output = {
  /** The bytes of the chosen format, exactly as the engine writes them, as it writes them. */
  stream: Readable
  /** Settles when the engine is done: the result's rows, or its error (the stream then ends where the output stopped). */
  finished: Promise<{ rows: number }>
  /** The reader is gone: stops the engine's writes as soon as that is safe (not its query: the engine cannot). */
  cancel(): void
}

/** Runs data engineers' statements on an engine session, one at a time (one FIFO); closing it leaves the session open. */
export type SqlSession = {
  explain: Explain
  /** Runs a checked statement (SETTINGS clause `settings`) with its output in `format`. */
  output(statement: string, format: string, settings: string): Output
  close(): Promise<void>
}

/** The session's queries answer in this format, read as JSON arrays a line each. */
const ROWS = 'JSONCompactEachRow'

const rowsOf = (text: string): unknown[][] =>
  text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as unknown[])

const settingsClause = (settings: string) => (settings ? `\nSETTINGS ${settings}` : '')

function formatName(format: string): string {
  if (!/^\w+$/.test(format)) throw new SqlError('UNKNOWN_FORMAT', `Unknown output format ${format}`)
  return format
}

/**
 * A session of the embedded engine. Its output goes through a FIFO of its own: the statement
 * runs with `INTO OUTFILE '<fifo>'`, and the engine's writer streams into it as it computes,
 * byte for byte in any format. The alternatives fall short, measured on chdb 3.4: the
 * @clickhouse/client connection and queryAsync hand over the whole result at once, and
 * queryStream makes each chunk a whole output of its own (a Parquet file, a JSON document...),
 * so only formats without a header or footer would survive it. The pipe also carries the
 * reader's back-pressure to the engine: a slow client slows the query, nothing piles up.
 * The read end is a non-blocking socket (no thread of libuv's pool waits on it), kept with a
 * write end of our own until the statement is done, so that it reads no end of file before the
 * engine has opened the FIFO, and all of it once the engine is done.
 */
export function embeddedSession(chdb: ChdbExtension): SqlSession {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dacc-sql-'))
  const fifo = path.join(dir, 'output')
  try {
    execFileSync('mkfifo', ['-m', '600', fifo], { stdio: 'ignore' })
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true })
    throw new Error(`cannot create a FIFO for the SQL interface (mkfifo): ${(err as Error).message}`)
  }
  const explain: Explain = async (query) =>
    rowsOf(Buffer.from((await chdb.queryAsync(query, { format: ROWS })).bytes()).toString('utf8'))
  return {
    explain,
    output: (statement, format, settings) => throughFifo(chdb, fifo, statement, formatName(format), settings),
    close: async () => fs.rmSync(dir, { recursive: true, force: true }),
  }
}

function throughFifo(chdb: ChdbExtension, fifo: string, statement: string, format: string, settings: string): Output {
  const read = fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK)
  const hold = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK)
  const socket = new net.Socket({ fd: read, readable: true, writable: false })
  const stream = new PassThrough()
  // The engine opens the FIFO before it writes: once bytes came, closing the read end is safe (its
  // writes then fail, silently: the query itself runs on, to its end or its time limit). Before,
  // it could not open a FIFO without a reader, and would wait for one for good: the output is
  // read and dropped until the statement is done.
  let opened = false
  let cancelled = false
  socket.on('data', (chunk: Buffer) => {
    opened = true
    if (cancelled) socket.destroy()
    else if (!stream.write(chunk)) socket.pause()
  })
  stream.on('drain', () => socket.resume())
  socket.on('end', () => stream.end())
  socket.on('error', (err) => stream.destroy(err))
  const finished = (async () => {
    try {
      const query = `${statement}\nINTO OUTFILE ${sqlString(fifo)} TRUNCATE\nFORMAT ${format}${settingsClause(settings)}`
      return { rows: (await chdb.queryAsync(query)).rowsRead }
    } catch (err) {
      throw fromEngine(err)
    } finally {
      fs.closeSync(hold)
    }
  })()
  // The caller reads `finished`; this only keeps an unread rejection from being reported as unhandled.
  finished.catch(() => undefined)
  return {
    stream,
    finished,
    cancel() {
      cancelled = true
      stream.destroy()
      if (opened) socket.destroy()
      else socket.resume()
    },
  }
}

/**
 * A ClickHouse server's session (`dacc sql` with clickhouse.url): its HTTP answers already stream.
 * An error after the first bytes comes inside the stream, as the server writes it.
 */
export function clientSession(client: ClickHouseClient): SqlSession {
  const explain: Explain = async (query) => {
    const result = await client.query({ query, format: ROWS })
    return (await result.json()) as unknown[][]
  }
  return {
    explain,
    output(statement, format, settings) {
      const controller = new AbortController()
      const stream = new PassThrough()
      const finished = client
        .exec({
          query: `${statement}\nFORMAT ${formatName(format)}${settingsClause(settings)}`,
          abort_signal: controller.signal,
        })
        .then(
          ({ stream: body }) =>
            new Promise<{ rows: number }>((resolve, reject) => {
              body.on('error', reject)
              body.on('end', () => resolve({ rows: Number.NaN }))
              body.pipe(stream)
            }),
          (err: unknown) => {
            stream.end()
            throw fromEngine(err)
          },
        )
      finished.catch(() => undefined)
      return {
        stream,
        finished,
        cancel() {
          controller.abort()
          stream.destroy()
        },
      }
    },
    close: async () => undefined,
  }
}
