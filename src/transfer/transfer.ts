import fs from 'node:fs'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { ClickHouse, ClickHouseClient } from '../clickhouse/client.ts'
import { UsageError } from '../errors.ts'

// States first: they are the answers, and the raw rows cannot rebuild purged ones.
const TABLES = ['aggregates', 'raw_measures'] as const
const MANIFEST = 'manifest.json'

type Manifest = { format: 'Native'; exportedAt: string; clickhouseVersion: string; rows: Record<string, number> }

/**
 * Writes every aggregate state and raw measure to `<dir>/<table>.native` (ClickHouse's Native
 * format: states stay states, byte for byte) and a manifest with the row counts.
 */
export async function exportData(client: ClickHouseClient, dir: string): Promise<Record<string, number>> {
  fs.mkdirSync(dir, { recursive: true })
  const rows: Record<string, number> = {}
  for (const table of TABLES) {
    const result = await client.exec({ query: `SELECT * FROM ${table} FORMAT Native` })
    await pipeline(result.stream, fs.createWriteStream(path.join(dir, `${table}.native`)))
    rows[table] = await scalar<number>(client, `SELECT count() FROM ${table}`)
  }
  const manifest: Manifest = {
    format: 'Native',
    exportedAt: new Date().toISOString(),
    clickhouseVersion: await scalar<string>(client, 'SELECT version()'),
    rows,
  }
  fs.writeFileSync(path.join(dir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`)
  return rows
}

/**
 * Loads an export into the (migrated) target. The raw rows are inserted marked as counted already
 * (in_imported_aggregates: the aggregate view leaves them out), since the copied states hold them:
 * the view stays attached, so instances writing to the same ClickHouse meanwhile lose nothing.
 */
export async function importData(clickhouse: ClickHouse, dir: string): Promise<Record<string, number>> {
  const manifestFile = path.join(dir, MANIFEST)
  if (!fs.existsSync(manifestFile)) throw new UsageError(`not an export directory (no ${MANIFEST}): ${dir}`)
  const manifest = JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as Manifest
  await insertNative(clickhouse, 'aggregates', path.join(dir, 'aggregates.native'))
  await insertNative(
    clickhouse,
    'raw_measures',
    path.join(dir, 'raw_measures.native'),
    'true AS in_imported_aggregates',
  )
  return manifest.rows
}

async function scalar<T>(client: ClickHouseClient, query: string): Promise<T> {
  const result = await client.query({ query: `SELECT (${query}) AS value`, format: 'JSONEachRow' })
  return (await result.json<{ value: T }>())[0].value
}

/** Inserts a Native file into `table`, each row's columns replaced as `replace` says (`<expression> AS <column>`). */
async function insertNative(clickhouse: ClickHouse, table: string, file: string, replace?: string): Promise<void> {
  const columns = replace ? `* REPLACE (${replace})` : '*'
  if (clickhouse.mode === 'embedded') {
    // The embedded connection passes an insert body as text, which would mangle binary states;
    // the engine reads the file itself instead. The path is ours (the export directory), quoted.
    const quoted = path.resolve(file).replace(/\\/g, '\\\\').replace(/'/g, "\\'")
    await clickhouse.client.command({
      query: `INSERT INTO ${table} SELECT ${columns} FROM file('${quoted}', 'Native')`,
    })
  } else {
    const structure = (
      await clickhouse.client
        .query({ query: `DESCRIBE TABLE ${table}`, format: 'JSONEachRow' })
        .then((result) => result.json<{ name: string; type: string }>())
    )
      .map(({ name, type }) => `${name} ${type}`)
      .join(', ')
    const { stream } = await clickhouse.client.exec({
      query: `INSERT INTO ${table} SELECT ${columns} FROM input({structure:String}) FORMAT Native`,
      query_params: { structure },
      values: fs.createReadStream(file),
    })
    stream.resume()
    await new Promise((resolve, reject) => stream.on('end', resolve).on('error', reject))
  }
}
