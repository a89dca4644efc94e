import crypto from 'node:crypto'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { ClickHouse } from '../clickhouse/client.ts'
import { rows } from '../clickhouse/rows.ts'
import { UsageError, firstLine } from '../errors.ts'
import { contributorIds, sortedValues } from '../aggregates/queries.ts'
import { frame } from './frames.ts'
import { aggregateViewAttached, loadFile } from './queries.ts'
import { COLUMNS, journalLine, receivedAtOf } from './rows.ts'

/** The deduplication window raw_measures and aggregates must keep, at least (clickhouse/0010 sets it). */
export const DEDUPLICATION_WINDOW = 100_000

class SelfCheckFailed extends UsageError {}

/**
 * What exactly-once rests on, checked at start on the engine actually connected, so that a
 * server whose engine would count a replayed load twice refuses to start, in one line, instead:
 * - aggregates_mv is attached (a detached view would let loads skip the aggregates);
 * - raw_measures and aggregates keep a deduplication window (0 turns deduplication off);
 * - a load repeated with the same token is dropped in both tables and by the view, through the
 *   very function and settings the loader uses (src/measures/queries.ts), on scratch copies of the
 *   tables made with their own engine settings (`CREATE TABLE ... AS`), dropped afterwards;
 * - the quantile and contributor states the read cache decodes (src/aggregates/queries.ts) still
 *   have the layout it reads: known values written, read back as hex states, decoded.
 * On a cluster the scratch tables are not made (they would be Replicated into the shared Keeper
 * paths): the view and the Replicated tables' windows are checked.
 */
export async function checkEngine(clickhouse: ClickHouse, cluster: string): Promise<void> {
  const { client } = clickhouse
  const fail = (what: string) => {
    throw new SelfCheckFailed(`ClickHouse self-check failed: ${what}`)
  }
  const tables = await rows<{ name: string; create: string }>(
    client,
    `SELECT name, create_table_query AS create FROM system.tables
     WHERE database = currentDatabase() AND name IN ({raw:String}, {aggregates:String})`,
    { raw: local('raw_measures', cluster), aggregates: local('aggregates', cluster) },
  )
  const create = (name: string) => tables.find((table) => table.name === name)?.create
  if (!(await aggregateViewAttached(client)))
    fail('the materialized view aggregates_mv is missing or detached (ATTACH TABLE aggregates_mv)')
  for (const table of ['raw_measures', 'aggregates']) {
    const setting = cluster ? 'replicated_deduplication_window' : 'non_replicated_deduplication_window'
    const window = Number(
      new RegExp(`\\b${setting} = (\\d+)`).exec(create(local(table, cluster)) ?? '')?.[1] ?? (cluster ? 1 : 0),
    )
    if (window === 0 || (!cluster && window < DEDUPLICATION_WINDOW))
      fail(
        `${table} keeps a deduplication window of ${window} blocks (${setting}; at least ${cluster ? 1 : DEDUPLICATION_WINDOW} needed)`,
      )
  }
  if (cluster) return
  await scratchLoads(clickhouse, fail)
}

const local = (table: string, cluster: string) => (cluster ? `${table}_local` : table)

const SCRATCH = { raw: 'dacc_selfcheck_raw', aggregates: 'dacc_selfcheck_aggregates', view: 'dacc_selfcheck_mv' }
const VALUES = [1.5, 2.5, 4]
const CONTRIBUTORS = ['11', '22']

async function scratchLoads(clickhouse: ClickHouse, fail: (what: string) => never): Promise<void> {
  const { client } = clickhouse
  const [view] = await rows<{ select: string }>(
    client,
    "SELECT as_select AS select FROM system.tables WHERE database = currentDatabase() AND name = 'aggregates_mv'",
    {},
  )
  const drop = async () => {
    for (const name of [SCRATCH.view, SCRATCH.raw, SCRATCH.aggregates])
      await client.command({ query: `DROP TABLE IF EXISTS ${name} SYNC` })
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dacc-selfcheck-'))
  try {
    await drop()
    await client.command({ query: `CREATE TABLE ${SCRATCH.raw} AS raw_measures` })
    await client.command({ query: `CREATE TABLE ${SCRATCH.aggregates} AS aggregates` })
    // The view's own SELECT, reading the scratch table: the check covers what the view computes.
    const select = view.select.replace(/\b(\w+\.)?raw_measures\b/g, SCRATCH.raw)
    await client.command({ query: `CREATE MATERIALIZED VIEW ${SCRATCH.view} TO ${SCRATCH.aggregates} AS ${select}` })
    const file = path.join(dir, 'segment.tsv')
    const receivedAt = receivedAtOf(Date.now())
    const lines = VALUES.map((value, index) =>
      journalLine(
        {
          measureName: 'selfcheck',
          startDate: '2020-01-01 00:00:00',
          createdBy: '',
          group1: '',
          group2: '',
          group3: '',
          value,
          withQuartiles: true,
          contributor: CONTRIBUTORS[index % CONTRIBUTORS.length],
        },
        receivedAt,
        '',
      ),
    )
    fs.writeFileSync(file, frame(lines.join(''), lines.length))
    const token = `dacc-selfcheck-${crypto.randomUUID()}`
    const load = {
      path: file,
      format: 'TabSeparated' as const,
      columns: COLUMNS,
      token,
      where: "measure_name != ''",
      table: SCRATCH.raw,
    }
    await loadFile(clickhouse, load)
    await loadFile(clickhouse, load)
    const [counts] = await rows<{ raw: number; aggregated: number; values: string; contributors: string }>(
      client,
      `SELECT (SELECT count() FROM ${SCRATCH.raw}) AS raw,
              (SELECT sum(count) FROM ${SCRATCH.aggregates}) AS aggregated,
              (SELECT hex(quantilesExactInclusiveIfMergeState(0.25, 0.5, 0.75)(quartiles_state)) FROM ${SCRATCH.aggregates}) AS values,
              (SELECT hex(uniqExactIfMergeState(contributors_state)) FROM ${SCRATCH.aggregates}) AS contributors`,
      {},
    )
    if (counts.raw !== VALUES.length || counts.aggregated !== VALUES.length)
      fail(
        `a load repeated with the same insert_deduplication_token was stored ${counts.raw / VALUES.length} times in raw_measures and ${counts.aggregated / VALUES.length} times in aggregates: deduplication is off on this engine`,
      )
    const values = [...sortedValues(Buffer.from(counts.values, 'hex'))]
    const ids = [...contributorIds(Buffer.from(counts.contributors, 'hex'))].map(String).sort()
    if (values.join() !== VALUES.join() || ids.join() !== [...CONTRIBUTORS].sort().join())
      fail(
        `the aggregate states do not decode as the read cache reads them (quartile values ${values.join(', ')}, contributors ${ids.join(', ')})`,
      )
  } catch (err) {
    if (err instanceof SelfCheckFailed) throw err
    fail(firstLine(err))
  } finally {
    await drop().catch(() => undefined)
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
