import fs from 'node:fs'
import path from 'node:path'
import { ClickHouseLogLevel, createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client'
import Database from 'better-sqlite3'
import type { ChdbExtension } from 'chdb/connection'
import type { Config } from '../config.ts'
import { firstLine, UsageError } from '../errors.ts'
import { replicasPerShard } from './cluster.ts'

export type { ClickHouseClient }

export type ClickHouse = {
  client: ClickHouseClient
  mode: 'embedded' | 'server'
  /** The engine's version(), e.g. 24.8.14.39 (reported by GET /status). */
  version: string
  /** The embedded engine's own interface to the same session: streams results in any format, byte for byte (src/sql/). */
  chdb?: ChdbExtension
  close(): Promise<void>
}

export class ClickHouseUnavailable extends UsageError {}

/**
 * Settings sent with every query, so that the embedded engine and a server answer alike:
 * chdb defaults to unquoted 64-bit integers and asynchronous inserts, a server to the opposite.
 * Counts stay far below 2^53, so numbers are safe; a synchronous insert is what lets a 201 mean
 * "the measure is in ClickHouse".
 */
const settings: ClickHouseSettings = {
  output_format_json_quote_64bit_integers: 0,
  output_format_json_quote_denormals: 0,
  async_insert: 0,
  date_time_input_format: 'basic',
}

/**
 * What a cluster adds to every query of DACC's client: each field is a ClickHouse setting, sized
 * from the cluster when the client opens (clusterSettings). docs/scaling.md says what each costs.
 */
export type ClusterSettings = {
  /**
   * An INSERT into a Distributed table returns once its rows are in their shards rather than
   * queued on the node that took it, so a loaded segment is in ClickHouse when its INSERT returns.
   * (Journal segments carry their own deduplication token, passed on to the shards:
   * src/measures/queries.ts.)
   */
  distributed_foreground_insert: 1
  /**
   * Replicas of a shard that must hold a part before the INSERT returns, and so before a segment
   * leaves the journal: a majority of the smallest shard's replicas (2 of 2, 2 of 3), so that no
   * acknowledged measure lives on one disk alone once its journal copy is gone. 1 (one replica a
   * shard) is no quorum. With fewer replicas alive, loads fail and wait in the journal.
   */
  insert_quorum: string
  /**
   * How long an INSERT waits for its quorum (ms): half the client's request timeout, so that
   * ClickHouse, not the HTTP client, gives up and says so. The loader then tries the segment
   * again; its blocks already written are deduplicated, and that INSERT waits for their quorum.
   */
  insert_quorum_timeout: number
  /**
   * Several instances load at once: with 0, an INSERT into a table whose previous quorum INSERT
   * has not reached its quorum is refused. (select_sequential_consistency needs 0, so reads get
   * their consistency from load_balancing below instead.)
   */
  insert_quorum_parallel: 1
  /**
   * Reads and inserts of every instance go to the first live replica of each shard, as
   * remote_servers lists them, never to the local one first: a read holds every segment loaded
   * before it, and no later read loses any (a replica's parts get merged, never taken away but by
   * a purge). When that replica is down, the next one answers: with 2 replicas a shard it holds
   * every loaded segment (both are the quorum); with more, it may lack, for its replication lag,
   * a segment whose quorum it was not part of.
   */
  load_balancing: 'in_order'
  prefer_localhost_replica: 0
}

/** The cluster settings for shards of these numbers of replicas (system.clusters), and the client's request timeout. */
export function clusterSettings(replicasPerShard: number[], requestTimeoutMs: number): ClusterSettings {
  const smallest = Math.min(...replicasPerShard)
  if (replicasPerShard.length === 0 || !(smallest >= 1)) {
    throw new Error(`a cluster has at least one replica a shard, got: [${replicasPerShard.join(', ')}]`)
  }
  return {
    distributed_foreground_insert: 1,
    insert_quorum: String(Math.floor(smallest / 2) + 1),
    insert_quorum_timeout: Math.floor(requestTimeoutMs / 2),
    insert_quorum_parallel: 1,
    load_balancing: 'in_order',
    prefer_localhost_replica: 0,
  }
}

/** The oldest server @clickhouse/client supports; Debian's 18.16, for one, has no query parameters. */
export const MINIMUM_VERSION = '24.8'

/** Whether a version() string (major.minor...) is at least MINIMUM_VERSION. */
export function isSupportedVersion(version: string): boolean {
  const [major, minor] = (/^(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number)
  const [minMajor, minMinor] = MINIMUM_VERSION.split('.').map(Number)
  return major > minMajor || (major === minMajor && minor >= minMinor)
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/

/** Opens the configured ClickHouse: a server over HTTP when `url` is set, else the embedded engine. */
export async function openClickHouse(config: Pick<Config, 'clickhouse' | 'dataDir'>): Promise<ClickHouse> {
  const { url, database, cluster } = config.clickhouse
  if (!IDENTIFIER.test(database)) {
    throw new ClickHouseUnavailable(`clickhouse.database must be a plain identifier, got: ${database}`)
  }
  // Both names are spliced into DDL, as identifiers.
  if (cluster && !IDENTIFIER.test(cluster)) {
    throw new ClickHouseUnavailable(`clickhouse.cluster must be a plain identifier, got: ${cluster}`)
  }
  if (cluster && !url)
    throw new ClickHouseUnavailable('clickhouse.cluster needs clickhouse.url: the embedded engine is a single node')
  return url ? openServer(config.clickhouse) : openEmbedded(path.join(config.dataDir, 'clickhouse'), database)
}

async function openEmbedded(dir: string, database: string): Promise<ClickHouse> {
  let createChdbConnection: typeof import('chdb/connection').createChdbConnection
  try {
    ;({ createChdbConnection } = await import('chdb/connection'))
  } catch {
    throw new ClickHouseUnavailable(
      'the embedded ClickHouse (npm package chdb) is not installed: install it or set clickhouse.url',
    )
  }
  fs.mkdirSync(dir, { recursive: true })
  const unlock = lockDirectory(dir)
  try {
    // chdb ships its own copy of @clickhouse/client-common's types: same shape, distinct declarations.
    const chdb = createChdbConnection({ path: dir })
    const connection = chdb as unknown as NonNullable<Parameters<typeof createClient>[0]>['connection']
    const client = createClient({ connection, clickhouse_settings: settings, log: QUIET })
    // chdb ignores the client's `database` option; the engine is one session per process, so a
    // USE here applies to every later query of this client.
    await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` })
    await client.command({ query: `USE ${database}` })
    const version = await readVersion(client)
    // Closed once nothing native is outstanding (a query whose caller gave up, the read cache's
    // background check, still runs on a libuv thread): the engine's exit handlers deadlock on one
    // (seen: a `dacc serve` hanging in exit() after its stop).
    const close = async () => {
      await client.close()
      await (await import('chdb')).drainPending()
    }
    return { client, mode: 'embedded', version, chdb: chdb.chdb, close: () => close().finally(unlock) }
  } catch (err) {
    unlock()
    if ((err as { code?: string }).code === 'CHDB_CONNECTION') throw inUse(dir)
    throw err
  }
}

const inUse = (dir: string) =>
  new ClickHouseUnavailable(
    `the embedded ClickHouse data directory ${dir} is in use by another process (a running dacc serve?)`,
  )

/** The client's own log lines (a request that failed, with its arguments) would come before DACC's one line about it. */
const QUIET = { level: ClickHouseLogLevel.OFF }

/** The directories this process has the embedded engine open in: every session shares the lock. */
const locked = new Map<string, { lock: Database.Database; sessions: number }>()

/**
 * An exclusive lock on an embedded data directory, held while this process has the engine open
 * there. The engine locks it too, but a second process would hear it from the engine's own
 * message on stderr before DACC's: this lock is taken first, to say it in one line. It is
 * SQLite's (fcntl), which the system releases with the process however it ends. Returns the unlock.
 */
function lockDirectory(dir: string): () => void {
  let entry = locked.get(dir)
  if (!entry) {
    const lock = new Database(path.join(dir, 'dacc.lock'))
    try {
      lock.pragma('locking_mode = EXCLUSIVE')
      lock.exec('BEGIN EXCLUSIVE; COMMIT') // in exclusive locking mode, the lock stays held
    } catch (err) {
      lock.close()
      if ((err as { code?: string }).code === 'SQLITE_BUSY') throw inUse(dir)
      throw err
    }
    locked.set(dir, (entry = { lock, sessions: 0 }))
  }
  entry.sessions++
  const held = entry
  let released = false
  return () => {
    if (released) return
    released = true
    if (--held.sessions > 0) return
    held.lock.close()
    locked.delete(dir)
  }
}

async function openServer(options: Config['clickhouse']): Promise<ClickHouse> {
  const connection = {
    url: options.url,
    username: options.user,
    password: options.password,
    request_timeout: options.requestTimeoutMs,
  }
  // No settings until the version is known: a server too old to know them answers only "Unknown setting".
  const bootstrap = createClient({ ...connection, log: QUIET })
  let version: string
  let added: ClusterSettings | undefined
  try {
    version = await reaching(options.url, readVersion(bootstrap))
    if (!isSupportedVersion(version)) {
      throw new ClickHouseUnavailable(`ClickHouse ${version} is too old: DACC needs ${MINIMUM_VERSION} or later`)
    }
    if (options.cluster) {
      const replicas = await reaching(options.url, replicasPerShard(bootstrap, options.cluster))
      if (replicas.length === 0) {
        throw new ClickHouseUnavailable(
          `the ClickHouse server at ${safeUrl(options.url)} has no cluster ${options.cluster} (system.clusters)`,
        )
      }
      added = clusterSettings(replicas, options.requestTimeoutMs)
    }
    const onCluster = options.cluster ? ` ON CLUSTER ${options.cluster}` : ''
    await reaching(
      options.url,
      bootstrap.command({ query: `CREATE DATABASE IF NOT EXISTS ${options.database}${onCluster}` }),
    )
  } finally {
    await bootstrap.close()
  }
  const client = createClient({
    ...connection,
    log: QUIET,
    database: options.database,
    clickhouse_settings: { ...settings, ...added },
  })
  return { client, mode: 'server', version, close: () => client.close() }
}

async function readVersion(client: ClickHouseClient): Promise<string> {
  const result = await client.query({ query: 'SELECT version() AS version', format: 'JSONEachRow' })
  const [row] = await result.json<{ version: string }>()
  return row.version
}

/** `pending`, its failure told in one line that names the server. */
async function reaching<T>(url: string, pending: Promise<T>): Promise<T> {
  try {
    return await pending
  } catch (err) {
    throw new ClickHouseUnavailable(`cannot reach ClickHouse at ${safeUrl(url)}: ${firstLine(err)}`)
  }
}

/** The URL without credentials, for messages. */
function safeUrl(url: string): string {
  try {
    const parsed = new URL(url)
    parsed.username = ''
    parsed.password = ''
    return parsed.toString()
  } catch {
    return '(invalid URL)'
  }
}
