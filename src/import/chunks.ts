import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { ClickHouseClient } from '../clickhouse/client.ts'
import { crashHook } from '../measures/faults.ts'
import { detachAggregateView } from '../measures/queries.ts'
import { insertImportedRaw } from './queries.ts'

// An import's raw chunk is written ahead, as the journal's segments are (src/measures/journal.ts):
// to `<ingest.journalDir>/original/<token>.json`, then inserted with that deduplication token, then
// removed. ClickHouse commits an INSERT's raw rows and the view's aggregate states one after the
// other; a process killed in between leaves the file, and the next start of a process that writes
// ClickHouse with that journal (`dacc serve`, or the next `dacc import-original`) inserts it again
// with the same token before anything else: raw_measures drops the blocks it holds, the view
// writes those it missed (clickhouse/0006). Before anything else, so that the deduplication window
// (1,000 blocks) still covers them.

const CHUNK = /^dacc-original-[0-9a-f]{32}\.json$/

const chunksDir = (journalDir: string) => path.join(journalDir, 'original')

/** Inserts a chunk of raw rows (JSONCompactEachRow text) whose original ids are `ids`, written ahead. */
export async function insertRawChunk(
  client: ClickHouseClient,
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
  // Tests only (src/measures/faults.ts): the state a kill between the two commits leaves.
  const crash = crashHook(process.env.DACC_TEST_CRASH_AT)
  if (crash.point === 'between-raw-and-aggregates') await detachAggregateView({ client })
  await insertImportedRaw(client, rows, token)
  crash.at('between-raw-and-aggregates')
  fs.rmSync(file)
}

/** Inserts again the chunks a killed process left, with their tokens; how many there were. */
export async function completeRawChunks(client: ClickHouseClient, journalDir: string): Promise<number> {
  const dir = chunksDir(journalDir)
  const names = fs.existsSync(dir) ? fs.readdirSync(dir) : []
  // A file still being written was never inserted: its rows are read again by the next import.
  for (const name of names.filter((name) => name.endsWith('.part'))) fs.rmSync(path.join(dir, name))
  const files = names.filter((name) => CHUNK.test(name))
  for (const name of files.sort()) {
    const file = path.join(dir, name)
    await insertImportedRaw(client, fs.readFileSync(file, 'utf8'), path.basename(name, '.json'))
    fs.rmSync(file)
  }
  return files.length
}
