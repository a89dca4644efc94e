import { firstLine, UsageError } from '../errors.ts'

/** ClickHouse's error codes this interface answers with (`SELECT errorCodeToName(n)` on the engine). */
export const CODES = {
  UNSUPPORTED_METHOD: 1,
  BAD_ARGUMENTS: 36,
  NOT_IMPLEMENTED: 48,
  UNKNOWN_TABLE: 60,
  SYNTAX_ERROR: 62,
  UNKNOWN_FORMAT: 73,
  UNKNOWN_DATABASE: 81,
  READONLY: 164,
  REQUIRED_PASSWORD: 194,
  TOO_MANY_SIMULTANEOUS_QUERIES: 202,
  QUERY_IS_TOO_LARGE: 229,
  CANNOT_DECOMPRESS: 271,
  TIMEOUT_EXCEEDED: 159,
  UNKNOWN_QUERY_PARAMETER: 456,
  BAD_QUERY_PARAMETER: 457,
  ACCESS_DENIED: 497,
  AUTHENTICATION_FAILED: 516,
} as const

type CodeName = keyof typeof CODES

/**
 * A query refused or failed, as ClickHouse tells it: a code, its name and a one-line message.
 * `dacc sql` prints the message (a UsageError); the HTTP interface answers
 * `Code: N. DB::Exception: <message>. (NAME)` with the code in X-ClickHouse-Exception-Code, so
 * that ClickHouse's own clients read it as they would a server's.
 */
export class SqlError extends UsageError {
  readonly code: number
  readonly type: string

  constructor(type: CodeName | { code: number; type: string }, message: string) {
    super(message)
    this.type = typeof type === 'string' ? type : type.type
    this.code = typeof type === 'string' ? CODES[type] : type.code
  }
}

/** `Code: 62. DB::Exception: Syntax error: ... (SYNTAX_ERROR)`, the engine's error text, read back. */
const ENGINE_ERROR = /^Code: (\d+)\. DB::Exception: ([\s\S]*?)(?:\. \((\w+)\))?(?: \(version [^)]*\))?\.?$/

/** The engine's error as a SqlError (its code, name and first line); anything else, code 0. */
export function fromEngine(err: unknown): SqlError {
  if (err instanceof SqlError) return err
  const text = String((err as Error)?.message ?? err).trim()
  const match = ENGINE_ERROR.exec(text)
  if (!match) return new SqlError({ code: 0, type: 'UNKNOWN_EXCEPTION' }, firstLine(err))
  // The engine may repeat the prefix when it wraps an error of its own (`Code: 164. DB::Exception: Code: 164. ...`).
  const message = firstLine(match[2].replace(/^(?:Code: \d+\. DB::Exception: )+/, ''))
  return new SqlError({ code: Number(match[1]), type: match[3] ?? 'UNKNOWN_EXCEPTION' }, message)
}

/** The body of an error answer, as ClickHouse writes it. */
export const exceptionText = (err: SqlError, version: string) =>
  `Code: ${err.code}. DB::Exception: ${err.message.replace(/\.$/, '')}. (${err.type}) (version ${version})`

/** The HTTP status ClickHouse's server gives an error code (Server/HTTP/exceptionCodeToHTTPStatus.cpp), for ours. */
export function httpStatus(code: number): number {
  switch (code) {
    case CODES.REQUIRED_PASSWORD:
    case CODES.AUTHENTICATION_FAILED:
      return 401
    case CODES.READONLY:
    case CODES.ACCESS_DENIED:
      return 403
    case CODES.SYNTAX_ERROR:
    case CODES.BAD_ARGUMENTS:
    case CODES.UNKNOWN_QUERY_PARAMETER:
    case CODES.BAD_QUERY_PARAMETER:
    case CODES.CANNOT_DECOMPRESS:
    case 6: // CANNOT_PARSE_TEXT
    case 43: // ILLEGAL_TYPE_OF_ARGUMENT
    case 53: // TYPE_MISMATCH
      return 400
    case 46: // UNKNOWN_FUNCTION
    case 47: // UNKNOWN_IDENTIFIER
    case CODES.UNKNOWN_TABLE:
    case CODES.UNKNOWN_FORMAT:
    case CODES.UNKNOWN_DATABASE:
      return 404
    case CODES.UNSUPPORTED_METHOD:
      return 405
    case CODES.QUERY_IS_TOO_LARGE:
      return 413
    case CODES.NOT_IMPLEMENTED:
      return 501
    case CODES.TOO_MANY_SIMULTANEOUS_QUERIES:
      return 503
    default:
      return 500
  }
}
