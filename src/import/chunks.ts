import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { ClickHouse } from '../clickhouse/client.ts'
import { firstLine } from '../errors.ts'
import type { Logger } from '../logger.ts'
import { crashHook } from '../measures/faults.ts'
import { syncDirectory } from '../measures/journal.ts'
import { deleteRawRows, detachAggregateView, loadFile } from '../measures/queries.ts'
import { countByName, setAside } from '../measures/quarantine.ts'
import { COLUMNS } from '../measures/rows.ts'
import { RAW_COLUMNS } from './mapping.ts'

// An import's raw chunk is written ahead, as the journal's segments are (src/measures/journal.ts):
// to `<ingest.journalDir>/original/<token>.json`, then inserted with that deduplication token, then
// removed. ClickHouse commits an INSERT's raw rows and the view's aggregate states one after the
// other; a process killed in between leaves the file, and the next start of a process that writes
// ClickHouse with that journal (`dacc serve`, or the next `dacc import-original`) inserts it again
// with the same token before anything else: raw_measures drops the blocks it holds, the view
// writes those it missed (clickhouse/0006). A chunk the engine refuses there is set aside into the
// quarantine, as a journal segment would be (src/measures/loader.ts): it never stops a start.

const CHUNK = /^dacc-original-[0-9a-f]{32}\.json$/

const chunksDir = (journalDir: string) => path.join(journalDir, 'original')

const TYPES: Record<string, string> = {
  ...Object.fromEntries(COLUMNS),
  original_id: 'UInt64',
  in_imported_aggregates: 'Bool',
}
/** The columns of a chunk's rows (src/import/mapping.ts), typed. */
const CHUNK_COLUMNS = RAW_COLUMNS.map((column) => [column, TYPES[column]] as const)

/** Inserts a chunk file (JSONCompactEachRow rows of RAW_COLUMNS) with its token. */
export function loadChunk(clickhouse: Pick<ClickHouse, 'client' | 'mode'>, file: string, token: string): Promise<void> {
  return loadFile(clickhouse, { path: file, format: 'JSONCompactEachRow', columns: CHUNK_COLUMNS, token })
}

/** Inserts a chunk of raw rows (JSONCompactEachRow text) whose original ids are `ids`, written ahead. */
export async function insertRawChunk(
  clickhouse: Pick<ClickHouse, 'client' | 'mode'>,
  journalDir: string,
  rows: string,
  ids: number[],
): Promise<void> {
  // The token is the rows' original ids: exactly "the same rows of the original again", never
  // two chunks that happen to hold equal values.
  const token = `dacc-original-${crypto.createHash('sha256').update(ids.join(',')).digest('hex').slice(0, 32)}`
  const dir = chunksDir(journalDir)
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  const file = path.join(dir, `${token}.json`)
  // Whole or not at all: a file cut short by a kill would never parse.
  fs.writeFileSync(`${file}.part`, rows, { mode: 0o600, flush: true })
  fs.renameSync(`${file}.part`, file)
  syncDirectory(dir)
  // Tests only (src/measures/faults.ts): the state a kill between the two commits leaves.
  const crash = crashHook(process.env.DACC_TEST_CRASH_AT)
  if (crash.point === 'between-raw-and-aggregates') await detachAggregateView(clickhouse)
  await loadChunk(clickhouse, file, token)
  crash.at('between-raw-and-aggregates')
  fs.rmSync(file)
  syncDirectory(dir)
}

/**
 * Inserts again the chunks a killed process left, with their tokens; a chunk refused goes to the
 * quarantine (its raw rows, if the engine kept some, deleted first). How many went either way.
 */
export async function completeRawChunks(
  clickhouse: Pick<ClickHouse, 'client' | 'mode'>,
  journalDir: string,
  cluster: string,
  logger?: Logger,
): Promise<{ completed: number; setAside: number }> {
  const dir = chunksDir(journalDir)
  const names = fs.existsSync(dir) ? fs.readdirSync(dir) : []
  // A file still being written was never inserted: its rows are read again by the next import.
  for (const name of names.filter((name) => name.endsWith('.part'))) fs.rmSync(path.join(dir, name))
  const result = { completed: 0, setAside: 0 }
  for (const name of names.filter((name) => CHUNK.test(name)).sort()) {
    const file = path.join(dir, name)
    const token = path.basename(name, '.json')
    try {
      await loadChunk(clickhouse, file, token)
      fs.rmSync(file)
      result.completed++
    } catch (err) {
      const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean)
      const cleaned = await deleteRawRows(clickhouse.client, token, cluster).then(
        () => true,
        () => false,
      )
      setAside(journalDir, token, file, {
        kind: 'import-chunk',
        rows: lines.length,
        measures: countByName(lines.map((line) => String((JSON.parse(line) as unknown[])[0]))),
        error: firstLine(err),
        attempts: 1,
        quarantinedAt: new Date().toISOString(),
        token,
        cleaned,
      })
      logger?.error(
        { chunk: token, err },
        'an import chunk was set aside: ClickHouse refuses it (dacc quarantine list)',
      )
      result.setAside++
    }
  }
  if (names.length > 0) syncDirectory(dir)
  return result
}
