/**
 * What a failed load says about itself, so that no segment can stall the others:
 * - `transient`: the engine or what it stands on is away or overloaded (unreachable, timed out,
 *   disk full, out of memory, too many parts, read-only, Keeper, quorum, a file system error).
 *   Every segment would fail alike, and a retry succeeds once it heals: retried for ever, in order;
 * - `permanent`: the engine refused this INSERT for what it holds or for the schema it meets (a
 *   value it cannot parse or store, a column or table it does not know, a constraint). Retrying the
 *   same rows into the same tables cannot succeed: the segment is set aside at once;
 * - `unknown`: anything else, retried `ingest.loadAttempts` times, then set aside.
 * ClickHouse errors are told by their `type` (the @clickhouse/client error, and chdb's alike),
 * network errors by their Node `code`.
 */
export type ErrorClass = 'transient' | 'permanent' | 'unknown'

const TRANSIENT_TYPES = new Set([
  'TIMEOUT_EXCEEDED',
  'SOCKET_TIMEOUT',
  'NETWORK_ERROR',
  'NOT_ENOUGH_SPACE',
  'MEMORY_LIMIT_EXCEEDED',
  'CANNOT_ALLOCATE_MEMORY',
  'TOO_MANY_PARTS',
  'TOO_MANY_SIMULTANEOUS_QUERIES',
  'SERVER_OVERLOADED',
  'CANNOT_SCHEDULE_TASK',
  'TABLE_IS_READ_ONLY',
  'READONLY',
  'ABORTED',
  'QUERY_WAS_CANCELLED',
  'QUERY_WAS_CANCELLED_BY_CLIENT',
  'TABLE_IS_DROPPED',
  'KEEPER_EXCEPTION',
  'NO_ZOOKEEPER',
  'ALL_CONNECTION_TRIES_FAILED',
  'ALL_REPLICAS_ARE_STALE',
  'TOO_FEW_LIVE_REPLICAS',
  'UNSATISFIED_QUORUM_FOR_PREVIOUS_WRITE',
  'UNKNOWN_STATUS_OF_INSERT',
  'REPLICA_IS_NOT_IN_QUORUM',
  'DISTRIBUTED_TOO_MANY_PENDING_BYTES',
  'AUTHENTICATION_FAILED',
  'ACCESS_DENIED',
  'CANNOT_FSYNC',
  'CANNOT_WRITE_TO_FILE_DESCRIPTOR',
  'CANNOT_READ_FROM_FILE_DESCRIPTOR',
  'CANNOT_OPEN_FILE',
  'CANNOT_CREATE_DIRECTORY',
  'CANNOT_CLOSE_FILE',
  'SYSTEM_ERROR',
  'STD_EXCEPTION',
])

const PERMANENT_TYPES = new Set([
  'CANNOT_PARSE_TEXT',
  'CANNOT_PARSE_QUOTED_STRING',
  'CANNOT_PARSE_INPUT_ASSERTION_FAILED',
  'CANNOT_PARSE_DATE',
  'CANNOT_PARSE_DATETIME',
  'CANNOT_PARSE_NUMBER',
  'CANNOT_PARSE_BOOL',
  'CANNOT_PARSE_ESCAPE_SEQUENCE',
  'CANNOT_READ_ALL_DATA',
  'INCORRECT_DATA',
  'INCORRECT_NUMBER_OF_COLUMNS',
  'NUMBER_OF_COLUMNS_DOESNT_MATCH',
  'TYPE_MISMATCH',
  'ILLEGAL_TYPE_OF_ARGUMENT',
  'ILLEGAL_COLUMN',
  'CANNOT_CONVERT_TYPE',
  'VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE',
  'ARGUMENT_OUT_OF_BOUND',
  'DECIMAL_OVERFLOW',
  'TOO_LARGE_STRING_SIZE',
  'CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN',
  'VIOLATED_CONSTRAINT',
  'FUNCTION_THROW_IF_VALUE_IS_NON_ZERO',
  'NO_SUCH_COLUMN_IN_TABLE',
  'THERE_IS_NO_COLUMN',
  'NOT_FOUND_COLUMN_IN_BLOCK',
  'UNKNOWN_IDENTIFIER',
  'UNKNOWN_TABLE',
  'DEDUPLICATION_IS_NOT_POSSIBLE',
])

const NETWORK_CODES = /^(ECONN|EPIPE|ETIMEDOUT|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|UND_ERR_)/

/** Disk errors of this process's own file reads (a segment on a failing disk): the disk may come back. */
const FILE_CODES = new Set(['EIO', 'ENOSPC', 'EACCES', 'EPERM', 'EMFILE', 'ENFILE', 'EROFS'])

export function classify(err: unknown): ErrorClass {
  const { code, type, message } = (err ?? {}) as { code?: unknown; type?: unknown; message?: unknown }
  // ClickHouse says "Too many partitions" with TOO_MANY_PARTS' code: one INSERT's shape, not the engine's load.
  if (typeof message === 'string' && /Too many partitions for (a )?single INSERT block/i.test(message))
    return 'permanent'
  if (typeof type === 'string') {
    if (TRANSIENT_TYPES.has(type)) return 'transient'
    if (PERMANENT_TYPES.has(type)) return 'permanent'
    return 'unknown'
  }
  if (typeof code === 'string' && (NETWORK_CODES.test(code) || FILE_CODES.has(code))) return 'transient'
  if (typeof message === 'string' && /timeout|socket hang up/i.test(message)) return 'transient'
  return 'unknown'
}

/** Network errors that prove the request never reached the engine: it cannot have committed anything. */
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'])

/**
 * Whether a failed load may have been committed all the same: its answer was lost (a reset, a
 * timeout: the engine may have finished it). ClickHouse's own errors are its answer: the view's
 * states of a refused INSERT were not committed.
 */
export function outcomeUnknown(err: unknown): boolean {
  const { code, type, message } = (err ?? {}) as { code?: unknown; type?: unknown; message?: unknown }
  if (type === 'UNKNOWN_STATUS_OF_INSERT' || type === 'TIMEOUT_EXCEEDED' || type === 'SOCKET_TIMEOUT') return true
  if (typeof type === 'string') return false
  if (typeof code === 'string') return !NEVER_SENT.has(code) && NETWORK_CODES.test(code)
  return typeof message === 'string' && /timeout|socket hang up/i.test(message)
}
