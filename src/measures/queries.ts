import fs from 'node:fs'
import type { ClickHouse, ClickHouseClient } from '../clickhouse/client.ts'
import { localTarget } from '../clickhouse/cluster.ts'
import { rows } from '../clickhouse/rows.ts'
import { syncDirectoryAsync } from './journal.ts'

/** A file of raw_measures rows to insert with its own deduplication token (a journal segment, an import chunk). */
export type LoadFile = {
  path: string
  format: 'TabSeparated' | 'JSONCompactEachRow'
  /** The file's columns, in order: name and ClickHouse type. */
  columns: readonly (readonly [name: string, type: string])[]
  /** The deduplication token, also stored in each row's load_token (clickhouse/0010). */
  token: string
  /** Rows to leave out (the journal's frame markers: src/measures/frames.ts). */
  where?: string
  /** Where the rows go: raw_measures, or the start-up self-check's scratch table. */
  table?: string
}

/**
 * Inserts a file into raw_measures (the materialized view turns it into aggregate states in the
 * same INSERT), with its token: inserted again after a crash or a failure, ClickHouse drops every
 * block it already holds, in raw_measures and, through
 * deduplicate_blocks_in_dependent_materialized_views, in aggregates, and writes the rest
 * (clickhouse/0006 and 0010 set the tables' windows). A segment stays within one insert block
 * (ingest.maxBatchRows), so its blocks are numbered alike on every attempt.
 *
 * The settings that exactly-once rests on are pinned here, not left to the engine's defaults:
 * `deduplicate_insert` and `deduplicate_insert_select` (ClickHouse 25.12+) can otherwise turn
 * deduplication off for an INSERT ... SELECT; the start-up self-check (selfcheck.ts) inserts through
 * this very function. `max_partitions_per_insert_block = 0`: one accepted request may hold dates of
 * every year a DateTime holds (aggregates are partitioned by year, 136 of them) and an import chunk
 * received_at of any week (raw_measures by week); the tables' partitions are bounded by those keys,
 * not by what one insert touches. Settings go in the statement on the embedded engine, which would
 * keep a client setting for the rest of its session.
 */
export async function loadFile({ client, mode }: Pick<ClickHouse, 'client' | 'mode'>, file: LoadFile): Promise<void> {
  const settings = renderSettings({
    insert_deduplicate: 1,
    insert_deduplication_token: file.token,
    deduplicate_blocks_in_dependent_materialized_views: 1,
    max_partitions_per_insert_block: 0,
    ...(await deduplicationSwitches(client)),
  })
  const names = file.columns.map(([name]) => name).join(', ')
  const structure = file.columns.map(([name, type]) => `${name} ${type}`).join(', ')
  const where = file.where ? ` WHERE ${file.where}` : ''
  const into = `INSERT INTO ${file.table ?? 'raw_measures'} (${names}, load_token) SETTINGS ${settings}`
  const params = { path: file.path, structure, token: file.token }
  if (mode === 'embedded') {
    // The engine reads the file itself: about 7 times cheaper a row than a body passed as text.
    await client.command({
      query: `${into} SELECT *, {token:String} FROM file({path:String}, '${file.format}', {structure:String})${where}`,
      query_params: params,
    })
  } else {
    const { stream } = await client.exec({
      query: `${into} SELECT *, {token:String} FROM input({structure:String})${where} FORMAT ${file.format}`,
      query_params: params,
      values: fs.createReadStream(file.path),
    })
    // The answer is empty; reading it to its end frees the connection.
    stream.resume()
    await new Promise((resolve, reject) => stream.on('end', resolve).on('error', reject))
  }
}

const SWITCHES = { deduplicate_insert: 'enable', deduplicate_insert_select: 'enable_even_for_bad_queries' } as const

/**
 * The deduplication switches this engine knows, set on: ClickHouse 25.12+ has them (24.8 does
 * not, and refuses an unknown setting). `enable_even_for_bad_queries`, not `force_enable`: with a
 * token, whether the SELECT is "stable" does not matter, and an engine that judged otherwise must
 * not make every load fail. Asked once per client.
 */
function deduplicationSwitches(client: ClickHouseClient): Promise<Partial<typeof SWITCHES>> {
  let known = switchesOf.get(client)
  if (!known) {
    known = rows<{ name: keyof typeof SWITCHES }>(
      client,
      'SELECT name FROM system.settings WHERE name IN {names:Array(String)}',
      { names: Object.keys(SWITCHES) },
    ).then((found) => Object.fromEntries(found.map(({ name }) => [name, SWITCHES[name]])))
    known.catch(() => switchesOf.delete(client))
    switchesOf.set(client, known)
  }
  return known
}
const switchesOf = new WeakMap<ClickHouseClient, Promise<Partial<typeof SWITCHES>>>()

const renderSettings = (settings: Record<string, string | number>) =>
  Object.entries(settings)
    .map(([name, value]) => `${name} = ${typeof value === 'string' ? `'${value.replace(/[\\']/g, '\\$&')}'` : value}`)
    .join(', ')

/** How many raw_measures rows each of these load tokens brought (absent: none). */
export async function rowsByToken(client: ClickHouseClient, tokens: string[]): Promise<Map<string, number>> {
  if (tokens.length === 0) return new Map()
  const found = await rows<{ token: string; n: number }>(
    client,
    'SELECT load_token AS token, count() AS n FROM raw_measures WHERE load_token IN {tokens:Array(String)} GROUP BY token',
    { tokens },
  )
  return new Map(found.map((row) => [row.token, row.n]))
}

/**
 * Deletes the raw rows a load brought, once done (a lightweight DELETE, waited for): a load that
 * failed after the engine committed its raw rows, and before the view's states, leaves them; a
 * segment set aside is made to have no trace in ClickHouse, so that raw and aggregates agree and a
 * later retry is an insert like a first one.
 */
export async function deleteRawRows(client: ClickHouseClient, token: string, cluster: string): Promise<void> {
  if (((await rowsByToken(client, [token])).get(token) ?? 0) === 0) return
  await client.command({
    query: `DELETE FROM ${localTarget('raw_measures', cluster)} WHERE load_token = {token:String} SETTINGS lightweight_deletes_sync = 2`,
    query_params: { token },
  })
}

/**
 * Whether the engine still remembers a load whose raw rows it holds: the blocks inserted into
 * raw_measures since that load's part, counted by block numbers (every part an insert writes takes
 * one, as does a mutation: an overestimate), are fewer than the table's deduplication window.
 * Plain MergeTree only: on a cluster, Keeper keeps the windows (replicated_deduplication_window).
 */
export async function stillDeduplicated(client: ClickHouseClient, token: string, window: number): Promise<boolean> {
  const [row] = await rows<{ since: number | null }>(
    client,
    `SELECT (SELECT max(max_block_number) FROM system.parts WHERE database = currentDatabase() AND table = 'raw_measures')
            - (SELECT min(toUInt64(splitByChar('_', _part)[2])) FROM raw_measures WHERE load_token = {token:String}) AS since`,
    { token },
  )
  return row.since !== null && row.since < window
}

/**
 * Flushes the deduplication logs of the tables a load writes to disk. ClickHouse writes each
 * inserted block's record to `deduplication_logs/` without fsync (it syncs them when it rotates
 * the file), while the parts themselves are fsynced (clickhouse/0006): after a power cut the rows
 * could be back without their record, and a segment still in the journal would be inserted twice.
 * Called after each load and before its segment leaves the journal (embedded engine: its files are
 * this process's own; a server keeps its own).
 */
export async function syncDeduplicationLogs(client: ClickHouseClient, tables: string[]): Promise<void> {
  let dirs = logDirs.get(client)
  if (!dirs) {
    const found = await rows<{ path: string }>(
      client,
      `SELECT arrayJoin(data_paths) AS path FROM system.tables WHERE database = currentDatabase() AND name IN {tables:Array(String)}`,
      { tables },
    )
    dirs = found.map(({ path }) => `${path.replace(/\/$/, '')}/deduplication_logs`)
    logDirs.set(client, dirs)
  }
  await Promise.all(
    dirs.map(async (dir) => {
      // The newest file only: the engine writes to it and syncs the others when it rotates.
      const newest = (await fs.promises.readdir(dir).catch(() => [] as string[]))
        .filter((name) => /^deduplication_log_\d+\.txt$/.test(name))
        .sort((a, b) => Number(a.match(/\d+/)![0]) - Number(b.match(/\d+/)![0]))
        .at(-1)
      if (!newest) return
      const handle = await fs.promises.open(`${dir}/${newest}`, 'r')
      await handle.datasync().finally(() => handle.close())
      // A file the engine has just started (it rotates every 2 × window records): its entry too.
      if (lastSynced.get(dir) !== newest) await syncDirectoryAsync(dir)
      lastSynced.set(dir, newest)
    }),
  )
}
const lastSynced = new Map<string, string>()
/** The tables' directories, asked once per client: they move only if a table is recreated. */
const logDirs = new WeakMap<ClickHouseClient, string[]>()

/**
 * The idempotency keys of raw_measures received within the window, with their receipt times (ms):
 * before the journal, keys were looked up there; a journal new to a store with measures starts from them.
 */
export async function recentIdempotencyKeys(
  client: ClickHouseClient,
  windowSeconds: number,
): Promise<[string, number][]> {
  const found = await rows<{ key: string; at: number }>(
    client,
    `SELECT idempotency_key AS key, toUnixTimestamp64Milli(max(received_at)) AS at FROM raw_measures
     WHERE idempotency_key != '' AND received_at >= now64(3) - toIntervalSecond({window:UInt32})
     GROUP BY key`,
    { window: windowSeconds },
  )
  return found.map((row) => [row.key, Number(row.at)])
}

/** Whether aggregates_mv is attached: detached, a load would write raw rows the aggregates never count. */
export async function aggregateViewAttached(client: ClickHouseClient): Promise<boolean> {
  const [{ n }] = await rows<{ n: number }>(
    client,
    "SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name = 'aggregates_mv'",
    {},
  )
  return n > 0
}

/** For the `between-raw-and-aggregates` crash test only (faults.ts): the view is attached again when the engine next opens. */
export async function detachAggregateView({ client }: Pick<ClickHouse, 'client'>): Promise<void> {
  await client.command({ query: 'DETACH TABLE aggregates_mv' })
}
