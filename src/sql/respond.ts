import crypto from 'node:crypto'
import type { ServerResponse } from 'node:http'
import type { Writable } from 'node:stream'
import zlib from 'node:zlib'
import type { Output } from './engine.ts'
import { exceptionText, fromEngine, httpStatus, type SqlError } from './errors.ts'
import type { SqlRequest } from './request.ts'

/** What every answer says about the server and the query (ClickHouse's own headers). */
export type Identity = { queryId: string; version: string; timezone: string }

/** What went out: result rows (as the engine counts them), bytes of the format, and the error if any. */
export type Sent = { rows: number; bytes: number; error: SqlError | undefined }

/**
 * Headers are held back while the output is under this size: a small result gets its exact
 * X-ClickHouse-Summary, and a query that fails before that gets a real error answer (status,
 * X-ClickHouse-Exception-Code) rather than a 200 with the error at the end. Past it, the answer
 * streams and a later failure is told at its end, as ClickHouse tells it.
 */
const HELD_BYTES = 1 << 20

/** Random lowercase letters, as ClickHouse tags the exception it writes into a body already begun. */
const exceptionTag = () => Array.from(crypto.randomBytes(16), (byte) => String.fromCharCode(97 + (byte % 26))).join('')

function baseHeaders({ queryId, timezone }: Identity): Record<string, string> {
  return {
    'X-ClickHouse-Server-Display-Name': 'dacc',
    'X-ClickHouse-Query-Id': queryId,
    'X-ClickHouse-Timezone': timezone,
  }
}

/** An error answer, as ClickHouse's server gives it: `Code: N. DB::Exception: ...` and its code in a header. */
export function sendError(response: ServerResponse, error: SqlError, identity: Identity): void {
  const headers: Record<string, string> = {
    ...baseHeaders(identity),
    'Content-Type': 'text/plain; charset=UTF-8',
    'X-ClickHouse-Exception-Code': String(error.code),
  }
  if (error.type === 'REQUIRED_PASSWORD' || error.type === 'AUTHENTICATION_FAILED')
    headers['WWW-Authenticate'] = 'Basic realm="DACC SQL", charset="UTF-8"'
  response.writeHead(httpStatus(error.code), headers).end(`${exceptionText(error, identity.version)}\n`)
}

/**
 * Streams an output as ClickHouse's HTTP interface answers a query: its format's content type,
 * X-ClickHouse-Format, -Query-Id, -Summary and -Exception-Tag, compressed when asked; an error
 * after the first bytes appended as the tagged exception block ClickHouse 25.11+ writes (which
 * @clickhouse/client reads). Resolves once the answer is out or the client gone.
 */
export async function sendOutput(
  response: ServerResponse,
  output: Output,
  format: string,
  identity: Identity,
  compression: SqlRequest['compression'],
  started: number,
): Promise<Sent> {
  const held: Buffer[] = []
  let bytes = 0
  const chunks = output.stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>
  let next = await chunks.next()
  while (!next.done && bytes < HELD_BYTES) {
    held.push(next.value)
    bytes += next.value.length
    next = await chunks.next()
  }
  let rows = 0
  let error: SqlError | undefined
  if (next.done) {
    try {
      rows = (await output.finished).rows
    } catch (err) {
      error = fromEngine(err)
      sendError(response, error, identity)
      return { rows, bytes: 0, error }
    }
  }
  const tag = exceptionTag()
  const summary = {
    read_rows: String(rows),
    read_bytes: '0',
    written_rows: '0',
    written_bytes: '0',
    total_rows_to_read: '0',
    result_rows: String(rows),
    result_bytes: String(next.done ? bytes : 0),
    elapsed_ns: String(Math.round((performance.now() - started) * 1e6)),
  }
  response.writeHead(200, {
    ...baseHeaders(identity),
    'Content-Type': contentType(format),
    'X-ClickHouse-Format': format,
    'X-ClickHouse-Summary': JSON.stringify(summary),
    'X-ClickHouse-Exception-Tag': tag,
    ...(compression ? { 'Content-Encoding': compression.encoding, Vary: 'Accept-Encoding' } : {}),
  })
  const body = compressed(response, compression)
  for (const chunk of held) await write(body, chunk)
  while (!next.done) {
    bytes += next.value.length
    await write(body, next.value)
    next = await chunks.next()
  }
  try {
    rows = (await output.finished).rows
  } catch (err) {
    error = fromEngine(err)
    const message = exceptionText(error, identity.version)
    // One write: the client finds the block in the last chunk it reads.
    await write(
      body,
      Buffer.from(
        `\r\n__exception__\r\n${tag}\r\n${message}\n${Buffer.byteLength(message) + 1} ${tag}\r\n__exception__\r\n`,
      ),
    )
  }
  await new Promise<void>((resolve) => {
    response.once('close', resolve)
    body.end()
  })
  return { rows, bytes, error }
}

/** The body's writer: the response, or a compressor in front of it. */
function compressed(response: ServerResponse, compression: SqlRequest['compression']): Writable {
  if (!compression) return response
  const options = { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: compression.level } }
  const zip =
    compression.encoding === 'br'
      ? zlib.createBrotliCompress(options)
      : compression.encoding === 'gzip'
        ? zlib.createGzip({ level: compression.level })
        : zlib.createDeflate({ level: compression.level })
  zip.pipe(response)
  return zip
}

/** Writes, waiting while the client is slower than the engine: the pipe then slows the engine down. */
async function write(body: Writable, chunk: Buffer): Promise<void> {
  if (body.destroyed) throw new Error('the client is gone')
  if (body.write(chunk)) return
  await new Promise<void>((resolve, reject) => {
    const done = () => {
      body.off('drain', done)
      body.off('close', gone)
      resolve()
    }
    const gone = () => {
      body.off('drain', done)
      reject(new Error('the client is gone'))
    }
    body.once('drain', done)
    body.once('close', gone)
  })
}

/** The content type ClickHouse's server gives an output format. */
export function contentType(format: string): string {
  if (/^(?:TabSeparated|TSV)/i.test(format)) return 'text/tab-separated-values; charset=UTF-8'
  if (/^CSV/i.test(format)) return `text/csv; charset=UTF-8; header=${/WithNames/i.test(format) ? 'present' : 'absent'}`
  if (/^(?:JSON\w*EachRow\w*|JSONLines|NDJSON|JSONObjectEachRow)$/i.test(format))
    return 'application/x-ndjson; charset=UTF-8'
  if (/^JSON/i.test(format)) return 'application/json; charset=UTF-8'
  if (/^XML$/i.test(format)) return 'application/xml; charset=UTF-8'
  if (
    /^(?:Parquet|Arrow|ArrowStream|ORC|Avro|Native|RowBinary\w*|MsgPack|Protobuf\w*|CapnProto|BSONEachRow|Npy)$/i.test(
      format,
    )
  )
    return 'application/octet-stream'
  return 'text/plain; charset=UTF-8'
}
