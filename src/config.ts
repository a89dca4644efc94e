import fs from 'node:fs'
import path from 'node:path'
import convict from 'convict'
import { parse as parseYaml } from 'yaml'
import { firstLine, UsageError } from './errors.ts'

convict.addParser({ extension: ['yml', 'yaml'], parse: parseYaml })
// A body size as the body parser reads it (bytes, or "512kb", "1mb"...): a value it could not
// read would silently lift the limit.
convict.addFormat({
  name: 'size',
  validate: (value: unknown) => {
    if (!/^\d+(\.\d+)?\s*(b|kb|mb|gb)?$/i.test(String(value)) || parseFloat(String(value)) <= 0) {
      throw new Error('must be a size such as 1048576, 512kb or 1mb')
    }
  },
})

/** A whole number within [min, max]: convict's `nat` would let a 0 through where it means nothing. */
const wholeNumber =
  (min: number, max = Number.MAX_SAFE_INTEGER) =>
  (value: unknown) => {
    if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
      throw new Error(`must be a whole number from ${min} to ${max}`)
    }
  }

// Every key is documented here and in config-template.yml (a test keeps them in step);
// every key has its DACC_... environment override.
const schema = {
  dataDir: {
    doc: 'Directory of the embedded ClickHouse data (<dataDir>/clickhouse) and of the SQLite store (<dataDir>/dacc.sqlite)',
    format: String,
    default: './data',
    env: 'DACC_DATA_DIR',
  },
  host: {
    doc: 'Address the HTTP server listens on',
    format: String,
    default: '127.0.0.1',
    env: 'DACC_HOST',
  },
  port: {
    doc: 'Port the HTTP server listens on (0 picks a free one)',
    format: 'port',
    default: 5000,
    env: 'DACC_PORT',
  },
  bodyLimit: {
    doc: 'Largest accepted JSON body of POST /measure and /aggregate (bytes, or a size like "1mb"); larger gets 413',
    format: 'size',
    default: '1mb',
    env: 'DACC_BODY_LIMIT',
  },
  log: {
    level: {
      doc: 'Log level of the JSON log lines written to stdout',
      format: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
      default: 'info',
      env: 'DACC_LOG_LEVEL',
    },
  },
  metrics: {
    host: {
      doc: "Address the metrics listener (GET /metrics, Prometheus text format) listens on; keep it on the operators' network, never the public one",
      format: String,
      default: '127.0.0.1',
      env: 'DACC_METRICS_HOST',
    },
    port: {
      doc: "Port of the metrics listener, never the API's; 0: no metrics listener",
      format: 'port',
      default: 9464,
      env: 'DACC_METRICS_PORT',
    },
  },
  sql: {
    host: {
      doc: "Address of the read-only ClickHouse-compatible SQL interface for data engineers (the embedded engine's; README: For data engineers)",
      format: String,
      default: '127.0.0.1',
      env: 'DACC_SQL_HOST',
    },
    port: {
      doc: "Port of the SQL interface (ClickHouse's own is 8123); 0: none, the default (it runs analysts' queries in the service's process: an operator's choice)",
      format: 'port',
      default: 0,
      env: 'DACC_SQL_PORT',
    },
    maxConcurrentQueries: {
      doc: 'SQL queries running at once, each on an engine session of its own; more wait up to 10 s, then get error 202 (TOO_MANY_SIMULTANEOUS_QUERIES). With sql.maxThreads, the cores analysts may take from the service; at most UV_THREADPOOL_SIZE - 2 (each running query holds one of the threads of libuv)',
      format: wholeNumber(1, 32),
      default: 1,
      env: 'DACC_SQL_MAX_CONCURRENT_QUERIES',
    },
    maxExecutionSeconds: {
      doc: 'Longest a SQL query may run (max_execution_time): past it, error 159 (TIMEOUT_EXCEEDED)',
      format: wholeNumber(1, 86_400),
      default: 60,
      env: 'DACC_SQL_MAX_EXECUTION_SECONDS',
    },
    maxResultRows: {
      doc: 'Most rows a SQL query may return (max_result_rows): more is error 396 (TOO_MANY_ROWS_OR_BYTES)',
      format: wholeNumber(1),
      default: 100_000_000,
      env: 'DACC_SQL_MAX_RESULT_ROWS',
    },
    maxResultMb: {
      doc: 'Most data a SQL query may return, uncompressed, in megabytes (max_result_bytes)',
      format: wholeNumber(1),
      default: 10_240,
      env: 'DACC_SQL_MAX_RESULT_MB',
    },
    maxMemoryMb: {
      doc: "Most memory a SQL query may use, in megabytes (max_memory_usage): the engine shares the service's process",
      format: wholeNumber(1),
      default: 1024,
      env: 'DACC_SQL_MAX_MEMORY_MB',
    },
    maxThreads: {
      doc: "Threads a SQL query may use (max_threads): the others' cores stay the service's",
      format: wholeNumber(1, 256),
      default: 1,
      env: 'DACC_SQL_MAX_THREADS',
    },
  },
  clickhouse: {
    url: {
      doc: 'URL of a ClickHouse server (http:// or https://); empty runs the embedded engine (chdb) under dataDir',
      format: String,
      default: '',
      env: 'DACC_CLICKHOUSE_URL',
    },
    user: {
      doc: 'ClickHouse user (server mode)',
      format: String,
      default: 'default',
      env: 'DACC_CLICKHOUSE_USER',
    },
    password: {
      doc: 'ClickHouse password (server mode)',
      format: String,
      default: '',
      env: 'DACC_CLICKHOUSE_PASSWORD',
      sensitive: true,
    },
    database: {
      doc: 'ClickHouse database holding the DACC tables; created if missing',
      format: String,
      default: 'dacc',
      env: 'DACC_CLICKHOUSE_DATABASE',
    },
    requestTimeoutMs: {
      doc: 'Timeout of one ClickHouse request, in milliseconds (server mode)',
      format: 'nat',
      default: 30000,
      env: 'DACC_CLICKHOUSE_REQUEST_TIMEOUT_MS',
    },
    cluster: {
      doc: 'Name of a ClickHouse cluster (server mode): DDL runs ON CLUSTER, tables are Replicated and read and written through Distributed tables; empty for a single server',
      format: String,
      default: '',
      env: 'DACC_CLICKHOUSE_CLUSTER',
    },
  },
  aggregate: {
    maxStalenessMs: {
      doc: 'Answers always hold every measure this server acknowledged; measures written to ClickHouse by others (another instance, a direct INSERT) show in them within this many milliseconds (0: every answer checks ClickHouse)',
      format: 'nat',
      default: 1000,
      env: 'DACC_AGGREGATE_MAX_STALENESS_MS',
    },
    cacheMb: {
      doc: 'Memory for the bucket statistics /aggregate answers from and the measures not yet loaded, in MB, as accounted (least recently used months go first); a bucket row takes about 600 bytes, a quartile value 8, a contributor id 64',
      format: wholeNumber(1),
      default: 256,
      env: 'DACC_AGGREGATE_CACHE_MB',
    },
  },
  retention: {
    rawDays: {
      doc: 'dacc serve purges raw measures received more than this many days ago, as dacc purge all-measures does (aggregates never change); 0: never',
      format: 'nat',
      default: 0,
      env: 'DACC_RETENTION_RAW_DAYS',
    },
    intervalMs: {
      doc: 'With retention.rawDays set, the server purges at start and then every this many milliseconds',
      format: wholeNumber(1),
      default: 3_600_000,
      env: 'DACC_RETENTION_INTERVAL_MS',
    },
  },
  auth: {
    signingKey: {
      doc: 'Secret that signs and verifies tokens (HS256, at least 32 characters); empty: one is generated once and kept in the SQLite store. Set the same value on every instance that shares tokens',
      format: String,
      default: '',
      env: 'DACC_AUTH_SIGNING_KEY',
      sensitive: true,
    },
  },
  privacy: {
    secret: {
      doc: 'Secret (at least 32 characters) keying the hash of contributor pseudonyms and the noise of /aggregate (docs/privacy.md); empty: one is generated once and kept in the SQLite store. Set the same value on every instance, and never change it: contributors would be counted twice and the noise drawn anew',
      format: String,
      default: '',
      env: 'DACC_PRIVACY_SECRET',
      sensitive: true,
    },
  },
  ingest: {
    journalDir: {
      doc: 'Directory of the journal where measures are acknowledged before they are loaded into ClickHouse; empty: <dataDir>/journal. One server per journal',
      format: String,
      default: '',
      env: 'DACC_INGEST_JOURNAL_DIR',
    },
    fsync: {
      doc: 'Flush the journal to disk (fdatasync) before acknowledging measures, so that a 201 survives a power cut too; false: it survives a crash of the server, not of the machine',
      format: Boolean,
      default: true,
      env: 'DACC_INGEST_FSYNC',
    },
    maxBatchRows: {
      // At most one ClickHouse insert block (65,409 rows by default), so that a segment inserted
      // again after a crash is cut into the same numbered blocks (src/measures/queries.ts).
      doc: 'Measures loaded into ClickHouse by one INSERT, at most (a journal segment)',
      format: wholeNumber(1, 65000),
      default: 50000,
      env: 'DACC_INGEST_MAX_BATCH_ROWS',
    },
    maxBatchDelayMs: {
      // Larger, rarer inserts cost ClickHouse far less a row (fewer parts to write and merge):
      // at 1 s rather than 5 ms, the server took half the CPU per measure under load (measured).
      doc: 'Longest time an acknowledged measure waits before its journal segment is loaded into ClickHouse (milliseconds); answers include it meanwhile',
      format: 'nat',
      default: 1000,
      env: 'DACC_INGEST_MAX_BATCH_DELAY_MS',
    },
    maxQueuedRows: {
      doc: 'Measures acknowledged but not yet loaded into ClickHouse, at most; past that POST /measure(s) answers 503 with Retry-After',
      format: wholeNumber(1),
      default: 200000,
      env: 'DACC_INGEST_MAX_QUEUED_ROWS',
    },
    maxMeasuresPerRequest: {
      doc: 'Most measures accepted in one POST /measures request; more gets 413',
      format: wholeNumber(1),
      default: 10000,
      env: 'DACC_INGEST_MAX_MEASURES_PER_REQUEST',
    },
    idempotencyWindowSeconds: {
      doc: 'A retried POST /measure(s) with the same Idempotency-Key (per token) within this many seconds is acknowledged without storing its measures again',
      format: 'nat',
      default: 86400,
      env: 'DACC_INGEST_IDEMPOTENCY_WINDOW_SECONDS',
    },
    batchBodyLimit: {
      doc: 'Largest body of POST /measures (bytes, or a size like "10mb"); larger gets 413',
      format: 'size',
      default: '10mb',
      env: 'DACC_INGEST_BATCH_BODY_LIMIT',
    },
    loadAttempts: {
      doc: 'Attempts to load a journal segment into ClickHouse that fail with an error not known to be transient, before the segment is set aside (quarantine) so that the next ones load; errors known to be transient (ClickHouse away, a full disk) are retried until they heal, those ClickHouse raises for the rows themselves set it aside at once',
      format: wholeNumber(1, 1000),
      default: 5,
      env: 'DACC_INGEST_LOAD_ATTEMPTS',
    },
    appendStallMs: {
      doc: 'A journal append (write and fsync) still running after this many milliseconds makes GET /status report writes ko (a stuck disk)',
      format: wholeNumber(100),
      default: 5000,
      env: 'DACC_INGEST_APPEND_STALL_MS',
    },
  },
}

export type Config = {
  dataDir: string
  host: string
  port: number
  bodyLimit: string
  log: { level: string }
  metrics: { host: string; port: number }
  sql: {
    host: string
    port: number
    maxConcurrentQueries: number
    maxExecutionSeconds: number
    maxResultRows: number
    maxResultMb: number
    maxMemoryMb: number
    maxThreads: number
  }
  clickhouse: {
    url: string
    user: string
    password: string
    database: string
    requestTimeoutMs: number
    cluster: string
  }
  aggregate: { maxStalenessMs: number; cacheMb: number }
  retention: { rawDays: number; intervalMs: number }
  auth: { signingKey: string }
  privacy: { secret: string }
  ingest: {
    journalDir: string
    fsync: boolean
    maxBatchRows: number
    maxBatchDelayMs: number
    maxQueuedRows: number
    maxMeasuresPerRequest: number
    idempotencyWindowSeconds: number
    batchBodyLimit: string
    loadAttempts: number
    appendStallMs: number
  }
}

export class ConfigError extends UsageError {}

export type LoadOptions = {
  /** Path of the YAML file; defaults to $DACC_CONFIG, then ./config.yml when it exists. */
  file?: string
  /** Values that win over the file and the environment (tests use them). */
  overrides?: Record<string, unknown>
  env?: NodeJS.ProcessEnv
}

export function loadConfig({ file, overrides, env = process.env }: LoadOptions = {}): Config {
  const config = convict(schema, { env, args: [] })
  const chosen = file ?? env.DACC_CONFIG
  if (chosen) {
    if (!fs.existsSync(chosen)) throw new ConfigError(`config file not found: ${chosen}`)
    loadFile(config, chosen)
  } else if (fs.existsSync('config.yml')) {
    loadFile(config, 'config.yml')
  }
  if (overrides) config.load(overrides)
  try {
    config.validate({ allowed: 'strict' })
  } catch (err) {
    // convict lists every problem on its own line; the first one names its key.
    throw new ConfigError(`invalid configuration: ${firstLine(err)}`)
  }
  const result = config.getProperties() as Config
  if (result.auth.signingKey && result.auth.signingKey.length < 32) {
    throw new ConfigError('invalid configuration: auth.signingKey: must be at least 32 characters')
  }
  if (result.privacy.secret && result.privacy.secret.length < 32) {
    throw new ConfigError('invalid configuration: privacy.secret: must be at least 32 characters')
  }
  if (result.metrics.port !== 0 && result.metrics.port === result.port) {
    throw new ConfigError(
      'invalid configuration: metrics.port: must differ from port (metrics are never served with the API)',
    )
  }
  if (result.sql.port !== 0 && [result.port, result.metrics.port].includes(result.sql.port)) {
    throw new ConfigError('invalid configuration: sql.port: must differ from port and metrics.port')
  }
  // A running SQL query holds one of libuv's threads until it ends (the engine's calls run there),
  // as do the service's own loads, reads and journal writes: two stay theirs, whatever analysts do.
  const threads = Number(env.UV_THREADPOOL_SIZE) || 4
  if (result.sql.port !== 0 && result.sql.maxConcurrentQueries > threads - 2) {
    throw new ConfigError(
      `invalid configuration: sql.maxConcurrentQueries: at most ${threads - 2} with UV_THREADPOOL_SIZE=${threads} (each running query holds one of its threads): raise UV_THREADPOOL_SIZE first`,
    )
  }
  if (result.sql.port !== 0 && result.clickhouse.url) {
    throw new ConfigError(
      'invalid configuration: sql.port: the SQL interface serves the embedded engine; with clickhouse.url set, data engineers connect to ClickHouse itself (README: For data engineers)',
    )
  }
  const dataDir = path.resolve(result.dataDir)
  const journalDir = path.resolve(dataDir, result.ingest.journalDir || 'journal')
  return { ...result, dataDir, ingest: { ...result.ingest, journalDir } }
}

function loadFile(config: { loadFile(file: string): unknown }, file: string): void {
  try {
    config.loadFile(file)
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${firstLine(err)}`)
  }
}

/** The schema's keys, flattened (`clickhouse.url`, ...), for the template check. */
export function configKeys(): string[] {
  const keys: string[] = []
  const walk = (node: Record<string, unknown>, prefix: string) => {
    for (const [key, value] of Object.entries(node)) {
      const child = value as Record<string, unknown>
      if ('doc' in child) keys.push(prefix + key)
      else walk(child, `${prefix}${key}.`)
    }
  }
  walk(schema, '')
  return keys
}
