import crypto from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import zlib from 'node:zlib'
import { SqlError } from './errors.ts'

/** What a query request to ClickHouse's HTTP interface carries, as this interface reads it. */
export type SqlRequest = {
  query: string
  /** Query parameters by name (`param_<name>`), each value in its type's escaped text format. */
  params: Record<string, string>
  /** The URL's (and a multipart form's) other entries: settings (src/sql/settings.ts). */
  entries: [string, string][]
  /** The output format when the query names none: default_format, X-ClickHouse-Format, else TabSeparated. */
  format: string
  /** The database asked for (`database`, X-ClickHouse-Database), if any. */
  database: string | undefined
  queryId: string
  /** The DACC token: HTTP Basic's password, X-ClickHouse-Key, or a Bearer token. */
  token: string | undefined
  /** How to compress the answer, when asked (enable_http_compression=1 and an Accept-Encoding we have). */
  compression: { encoding: 'br' | 'gzip' | 'deflate'; level: number } | undefined
}

/** The largest query text (URL and body together, inflated): ClickHouse's default max_query_size is 256 KiB. */
export const MAX_QUERY_BYTES = 1 << 20

/**
 * Reads a request as ClickHouse's HTTP interface does: the query in the `query` URL parameter,
 * the body, or both (the body follows on a new line), or in a multipart form (`query` and
 * `param_*` fields, as @clickhouse/client sends long parameters); a compressed body
 * (Content-Encoding) inflated. Credentials in the URL are refused rather than read: a token there
 * would stay in every proxy's and browser's history.
 */
export async function readRequest(request: IncomingMessage, url: URL): Promise<SqlRequest> {
  const entries = [...url.searchParams.entries()]
  if (url.searchParams.has('password') || url.searchParams.has('user'))
    throw new SqlError(
      'AUTHENTICATION_FAILED',
      'credentials in the URL are not accepted: send the token as the password of HTTP Basic authentication or in the X-ClickHouse-Key header',
    )
  if (url.searchParams.get('compress') === '1')
    throw new SqlError(
      'NOT_IMPLEMENTED',
      "compress=1 (ClickHouse's own compression) is not supported: use enable_http_compression=1",
    )
  let query = url.searchParams.get('query') ?? ''
  if (request.method === 'POST') {
    const body = await readBody(request)
    const boundary = /^multipart\/form-data;.*\bboundary="?([^";]+)"?/i.exec(request.headers['content-type'] ?? '')?.[1]
    if (boundary) {
      for (const [name, value] of formFields(body, boundary)) {
        if (name === 'query') query = query ? `${query}\n${value}` : value
        else entries.push([name, value])
      }
    } else {
      const text = body.toString('utf8')
      if (text) query = query ? `${query}\n${text}` : text
    }
  }
  if (!query.trim()) throw new SqlError('SYNTAX_ERROR', 'Empty query')
  const params: Record<string, string> = {}
  for (const [name, value] of entries) if (name.startsWith('param_')) params[name.slice('param_'.length)] = value
  const header = (name: string) => {
    const value = request.headers[name]
    return Array.isArray(value) ? value[0] : value
  }
  const format = url.searchParams.get('default_format') || header('x-clickhouse-format') || 'TabSeparated'
  const queryId = url.searchParams.get('query_id') || header('x-clickhouse-query-id') || ''
  return {
    query,
    params,
    entries,
    format,
    database: url.searchParams.get('database') || header('x-clickhouse-database') || undefined,
    // A client's id is echoed and logged: printable and short, else one of ours.
    queryId: /^[\x21-\x7e]{1,128}$/.test(queryId) ? queryId : crypto.randomUUID(),
    token: tokenOf(request),
    compression: compressionOf(url, header('accept-encoding')),
  }
}

function tokenOf(request: IncomingMessage): string | undefined {
  const key = request.headers['x-clickhouse-key']
  if (typeof key === 'string' && key) return key
  const [scheme, value = ''] = (request.headers.authorization ?? '').trim().split(/\s+/, 2)
  if (/^bearer$/i.test(scheme)) return value || undefined
  if (!/^basic$/i.test(scheme)) return undefined
  // user:password, the user any name (clients ask for one): the password is the token.
  const decoded = Buffer.from(value, 'base64').toString('utf8')
  return decoded.slice(decoded.indexOf(':') + 1) || undefined
}

/** ClickHouse's preference among the encodings a client accepts. */
const ENCODINGS = ['br', 'gzip', 'deflate'] as const

function compressionOf(url: URL, accepted: string | undefined): SqlRequest['compression'] {
  if (url.searchParams.get('enable_http_compression') !== '1' || !accepted) return undefined
  const encoding = ENCODINGS.find((name) => new RegExp(`\\b${name}\\b`, 'i').test(accepted))
  if (!encoding) return undefined
  const level = Number(url.searchParams.get('http_zlib_compression_level') ?? 3)
  return { encoding, level: Number.isInteger(level) && level >= 1 && level <= 9 ? level : 3 }
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const encoding = (request.headers['content-encoding'] ?? '').trim().toLowerCase()
  const inflate =
    encoding === 'gzip' || encoding === 'x-gzip'
      ? zlib.createGunzip()
      : encoding === 'deflate'
        ? zlib.createInflate()
        : encoding === 'br'
          ? zlib.createBrotliDecompress()
          : undefined
  if (encoding && encoding !== 'identity' && !inflate)
    throw new SqlError('CANNOT_DECOMPRESS', `Unknown HTTP compression method: ${encoding} (gzip, deflate and br are)`)
  const source = inflate ? request.pipe(inflate) : request
  const chunks: Buffer[] = []
  let size = 0
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > MAX_QUERY_BYTES) throw new SqlError('QUERY_IS_TOO_LARGE', `the query is over ${MAX_QUERY_BYTES} bytes`)
      chunks.push(chunk)
    }
  } catch (err) {
    if (err instanceof SqlError) throw err
    throw new SqlError('CANNOT_DECOMPRESS', `the body does not inflate as ${encoding}`)
  }
  return Buffer.concat(chunks)
}

/** The text fields of a multipart/form-data body. */
function formFields(body: Buffer, boundary: string): [string, string][] {
  const fields: [string, string][] = []
  for (const part of body.toString('utf8').split(`--${boundary}`).slice(1)) {
    if (part.startsWith('--')) break
    const split = part.indexOf('\r\n\r\n')
    if (split < 0) continue
    const headers = part.slice(0, split)
    const name = /content-disposition:[^\r\n]*\bname="([^"]*)"/i.exec(headers)?.[1]
    if (!name) continue
    if (/\bfilename=/i.test(headers))
      throw new SqlError('NOT_IMPLEMENTED', 'external data (a file in the form) is not supported')
    fields.push([name, part.slice(split + 4).replace(/\r\n$/, '')])
  }
  return fields
}
