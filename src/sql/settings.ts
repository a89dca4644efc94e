import { sqlString } from './check.ts'
import { SqlError } from './errors.ts'

/** The limits of every analyst query (config `sql.*`): a client may lower them, never raise them. */
export type Limits = {
  maxExecutionSeconds: number
  maxResultRows: number
  maxResultBytes: number
  maxMemoryBytes: number
  maxThreads: number
}

/** The URL parameters of ClickHouse's HTTP interface that are not settings, read elsewhere or not at all. */
export const REQUEST_PARAMETERS = new Set([
  'query',
  'query_id',
  'database',
  'default_format',
  'user',
  'password',
  'quota_key',
  'compress',
  'decompress',
  'enable_http_compression',
  'http_zlib_compression_level',
  // Server-side sessions keep settings and temporary tables between queries: nothing here may
  // set either, so each query is its own session and these change nothing.
  'session_id',
  'session_timeout',
  'session_check',
  // How a server buffers or reports progress: answers here stream, without progress headers.
  'wait_end_of_query',
  'http_wait_end_of_query',
  'buffer_size',
  'http_response_buffer_size',
  'send_progress_in_http_headers',
  'http_headers_progress_interval_ms',
  'cancel_http_readonly_queries_on_client_close',
])

/**
 * Settings that only shape the output a client reads (how JSON quotes 64-bit integers, a CSV
 * delimiter, Parquet's compression...). Not those that name a file: output_format_schema writes
 * one, format_schema and format_template_* read one.
 */
const OUTPUT =
  /^(?:output_format_(?:json|parquet|arrow|csv|tsv|pretty|decimal|native|values|xml|markdown|orc|avro|msgpack|bson|sql_insert)\w*|format_(?:csv|tsv|custom)_\w+|date_time_output_format|interval_output_format|bool_(?:true|false)_representation|extremes|session_timezone|join_use_nulls)$/

/** The limits, by ClickHouse setting, and which of ours each is; 0 means none to ClickHouse, so it would raise one. */
const LIMITS: Record<string, keyof Limits> = {
  max_execution_time: 'maxExecutionSeconds',
  max_result_rows: 'maxResultRows',
  max_result_bytes: 'maxResultBytes',
  max_memory_usage: 'maxMemoryBytes',
  max_threads: 'maxThreads',
}

/** How a limit reached is told: an error, or (`break`, a client's choice) a result cut there. */
const OVERFLOW_MODES = ['throw', 'break']

export type QuerySettings = {
  /** The SETTINGS clause of the statement: read-only, the limits, the client's output settings. */
  clause: string
  /** The same limits, for the queries that check it (analysing a query runs its scalar subqueries). */
  checks: string
}

/**
 * The settings a query runs with. Read-only and the limits are set on every query, in its own
 * SETTINGS clause (the embedded engine would keep a client setting on its session): a client
 * may lower a limit, a higher value (or 0, none) leaves ours. Output settings pass; any other
 * setting is refused as ClickHouse refuses it to a read-only user.
 */
export function querySettings(limits: Limits, given: [string, string][]): QuerySettings {
  const values: Record<string, string> = { output_format_json_quote_64bit_integers: '1' }
  const own: Record<string, number> = Object.fromEntries(
    Object.entries(LIMITS).map(([setting, key]) => [setting, limits[key]]),
  )
  for (const [name, value] of given) {
    if (REQUEST_PARAMETERS.has(name) || name.startsWith('param_')) continue
    if (name in LIMITS) {
      const lower = Number(value)
      if (Number.isSafeInteger(lower) && lower > 0 && lower < own[name]) own[name] = lower
    } else if (name === 'result_overflow_mode' && OVERFLOW_MODES.includes(value)) values[name] = sqlString(value)
    else if (name === 'readonly' && value === '1') continue
    else if (OUTPUT.test(name)) values[name] = /^-?\d+(\.\d+)?$/.test(value) ? value : sqlString(value)
    else throw new SqlError('READONLY', `Cannot modify '${name}' setting in readonly mode`)
  }
  // Not readonly: the engine refuses it to EXPLAIN read as a subquery (they write nothing anyway).
  const checks: [string, unknown][] = Object.entries({
    max_execution_time: own.max_execution_time,
    max_memory_usage: own.max_memory_usage,
    max_threads: own.max_threads,
  })
  const clause: [string, unknown][] = [
    ['readonly', 1],
    ...checks,
    ['max_result_rows', own.max_result_rows],
    ['max_result_bytes', own.max_result_bytes],
    ['result_overflow_mode', values.result_overflow_mode ?? "'throw'"],
    ['timeout_overflow_mode', "'throw'"],
    ...Object.entries(values).filter(([name]) => name !== 'result_overflow_mode'),
  ]
  const text = (pairs: [string, unknown][]) => pairs.map(([name, value]) => `${name} = ${value}`).join(', ')
  return { clause: text(clause), checks: text(checks) }
}
