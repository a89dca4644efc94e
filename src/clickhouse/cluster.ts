/**
 * Cluster clauses for the schema. The SQL files of clickhouse/ are written for one server; on a
 * cluster each statement is rendered here, so both setups apply the same files:
 * - every DDL runs ON CLUSTER;
 * - a `CREATE TABLE x (...) ENGINE = <Kind>MergeTree ...` becomes the shard-local table `x_local`
 *   (Replicated<Kind>MergeTree, replicas of a shard share a Keeper path) plus a Distributed table `x`
 *   over it, so readers and writers keep using `x`. Tables holding a measure group are sharded by
 *   the group: one group's raw rows and aggregate states live on one shard, whose merges then
 *   collapse them. Other tables are sharded by their sorting key, so that rows a Replacing engine
 *   must collapse (the definitions mirror) meet on one shard, and FINAL holds through the
 *   Distributed table; inserts through it are synchronous here (see client.ts) and so visible to
 *   the next read like on one server;
 * - a materialized view reads `x_local` and writes `y_local`: a view fires only on inserts into
 *   its source table, so each shard aggregates the raw rows it receives, next to their states;
 * - `ALTER TABLE x` changes the shard-local table `x_local`; when it changes columns, the
 *   Distributed table `x` too, lest reads and inserts through it miss the new column (other
 *   clauses, such as an index, mean nothing to a Distributed table);
 * - `DROP VIEW v` drops the view on every node (views keep their name on a cluster);
 * - a plain `CREATE VIEW v AS SELECT ...` is created on every node as written: it reads the
 *   Distributed tables, so each node's view sees the whole cluster.
 */

import type { ClickHouseClient } from './client.ts'

/** The group of a measure: its rows and states share a shard. */
const SHARDING_COLUMNS = ['measure_name', 'created_by', 'group1', 'group2', 'group3']

const CREATE_TABLE = /^\s*CREATE\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?(\w+)\s*\(/di
const MERGE_TREE_ENGINE = /\bENGINE\s*=\s*(\w*)MergeTree\b(?:\s*\(([^()]*)\))?/di
// The table's COMMENT is its last clause; column comments are followed by at least a `)`.
const TABLE_COMMENT = /\bCOMMENT\s+'[^']*'\s*$/di
const CREATE_VIEW = /^\s*CREATE\s+MATERIALIZED\s+VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s+TO\s+(\w+)\b/di
const ALTER_TABLE = /^\s*ALTER\s+TABLE\s+(\w+)\b/di
const COLUMN_CHANGE = /\b(?:ADD|DROP|MODIFY|RENAME)\s+COLUMN\b/i
const DROP_VIEW = /^\s*DROP\s+VIEW\s+(?:IF\s+EXISTS\s+)?(\w+)\b/di
const CREATE_PLAIN_VIEW = /^\s*CREATE\s+VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s+AS\b/di
const ORDER_BY = /\bORDER\s+BY\s+(\([^()]*\)|\w+)/i

/**
 * The statement(s) that apply `statement` on `cluster` (a plain identifier, checked when the
 * client opens); with no cluster, the statement itself.
 */
export function renderForCluster(statement: string, cluster: string): string[] {
  if (!cluster) return [statement]
  const code = codeOf(statement)
  const table = CREATE_TABLE.exec(code)
  if (table) return renderTable(statement, code, table, cluster)
  const view = CREATE_VIEW.exec(code)
  if (view) return [renderView(statement, code, view, cluster)]
  const alter = ALTER_TABLE.exec(code)
  if (alter) return renderAlter(statement, code, alter, cluster)
  const named = DROP_VIEW.exec(code) ?? CREATE_PLAIN_VIEW.exec(code)
  if (named) return [splice(statement, [[named.indices![1], `${named[1]} ON CLUSTER ${cluster}`]])]
  throw new Error(
    `no cluster rendering for this statement (extend src/clickhouse/cluster.ts): ${code.trim().split('\n')[0]}`,
  )
}

/**
 * The table a statement that changes rows in place (DELETE, ALTER ... DROP PARTITION) must name:
 * a Distributed table only routes reads and inserts, so on a cluster it is the shard-local table,
 * ON CLUSTER (on replicated tables one replica of each shard runs it, the others follow).
 */
export function localTarget(table: string, cluster: string): string {
  return cluster ? `${table}_local ON CLUSTER ${cluster}` : table
}

/**
 * The table to read a MergeTree's virtual columns (`_partition_id`) from: on a cluster, the
 * shard-local tables of every shard (one replica each), seen as one.
 */
export function localSource(table: string, cluster: string): string {
  return cluster ? `cluster('${cluster}', currentDatabase(), ${table}_local)` : table
}

function renderTable(statement: string, code: string, header: RegExpExecArray, cluster: string): string[] {
  const engine = MERGE_TREE_ENGINE.exec(code)
  if (!engine) throw new Error(`no cluster rendering for a table whose engine is not a MergeTree: ${header[0].trim()}`)
  const [, ifNotExists = '', table] = header
  const local = `${table}_local`
  const [kind, args] = [engine[1], engine[2]?.trim()]
  const replicated = `ENGINE = Replicated${kind}MergeTree('/clickhouse/tables/{shard}/{database}/${local}', '{replica}'${args ? `, ${args}` : ''})`
  const columns = columnNames(code, header.indices![0][1] - 1) // the header ends with the list's `(`
  const key = SHARDING_COLUMNS.every((column) => columns.includes(column))
    ? `cityHash64(${SHARDING_COLUMNS.join(', ')})`
    : shardingBySortingKey(code)
  const comment = TABLE_COMMENT.exec(code)
  return [
    splice(statement, [
      [header.indices![2], `${local} ON CLUSTER ${cluster}`],
      [engine.indices![0], replicated],
    ]),
    `CREATE TABLE ${ifNotExists}${table} ON CLUSTER ${cluster} AS ${local}\n` +
      `ENGINE = Distributed(${cluster}, currentDatabase(), ${local}, ${key})` +
      (comment ? `\n${statement.slice(comment.index).trim()}` : ''),
  ]
}

function shardingBySortingKey(code: string): string {
  const key = ORDER_BY.exec(code)?.[1]
  if (!key || /^tuple\(\s*\)$/i.test(key)) return 'rand()'
  return `cityHash64${key.startsWith('(') ? key : `(${key})`}`
}

function renderView(statement: string, code: string, header: RegExpExecArray, cluster: string): string {
  const [, view, target] = header
  // The source is the first table of the top-level FROM (FROM inside parentheses belongs to a
  // function or a subquery).
  const source = [...code.matchAll(/\bFROM\s+(\w+)\b(?!\s*\()/dgi)].find((match) => depthAt(code, match.index) === 0)
  if (!source) throw new Error(`no cluster rendering for a materialized view without a source table: ${view}`)
  return splice(statement, [
    [header.indices![1], `${view} ON CLUSTER ${cluster}`],
    [header.indices![2], `${target}_local`],
    [source.indices![1], `${source[1]}_local`],
  ])
}

function renderAlter(statement: string, code: string, header: RegExpExecArray, cluster: string): string[] {
  const table = header[1]
  const onTable = (name: string) => splice(statement, [[header.indices![1], `${name} ON CLUSTER ${cluster}`]])
  return COLUMN_CHANGE.test(code) ? [onTable(`${table}_local`), onTable(table)] : [onTable(`${table}_local`)]
}

/**
 * The statement with the contents of comments and string literals blanked out, keeping every
 * position: the schema's comments mention tables, engines and parentheses, which must not match.
 */
function codeOf(sql: string): string {
  return sql.replace(/--[^\n]*|\/\*[\s\S]*?\*\/|'(?:[^'\\]|\\.|'')*'/g, (token) =>
    token.startsWith("'") ? `'${' '.repeat(token.length - 2)}'` : ' '.repeat(token.length),
  )
}

/** First word of each top-level element of the parenthesised list opening at `open`. */
function columnNames(code: string, open: number): string[] {
  const names: string[] = []
  let depth = 0
  let start = open + 1
  for (let index = open; index < code.length; index++) {
    const char = code[index]
    if (char === '(') depth++
    else if (char === ')') depth--
    if ((char === ',' && depth === 1) || depth === 0) {
      names.push(code.slice(start, index).trim().split(/\s/)[0])
      start = index + 1
      if (depth === 0) break
    }
  }
  return names
}

function depthAt(code: string, end: number): number {
  let depth = 0
  for (const char of code.slice(0, end)) depth += char === '(' ? 1 : char === ')' ? -1 : 0
  return depth
}

/** Replaces the given [start, end) ranges, which do not overlap. */
function splice(text: string, edits: [[number, number], string][]): string {
  return edits
    .sort(([[a]], [[b]]) => b - a)
    .reduce((result, [[start, end], replacement]) => result.slice(0, start) + replacement + result.slice(end), text)
}

/**
 * The number of replicas of each shard of `cluster`, as the server DACC talks to lists them
 * (remote_servers, in system.clusters): the insert quorum is sized from it (client.ts). Empty when
 * the server has no such cluster.
 */
export async function replicasPerShard(client: ClickHouseClient, cluster: string): Promise<number[]> {
  const result = await client.query({
    query: `SELECT shard_num, count() AS replicas FROM system.clusters WHERE cluster = {cluster:String}
            GROUP BY shard_num ORDER BY shard_num`,
    query_params: { cluster },
    format: 'JSONEachRow',
  })
  // A server quotes 64-bit integers unless told otherwise (this runs before the client's settings are known).
  return (await result.json<{ replicas: number | string }>()).map((row) => Number(row.replicas))
}
