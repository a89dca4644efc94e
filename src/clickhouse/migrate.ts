import fs from 'node:fs'
import type { ClickHouseClient } from './client.ts'

const SCHEMA_DIR = new URL('../../clickhouse/', import.meta.url)

export type Migration = { version: number; name: string; statements: string[] }

/** The numbered SQL files of clickhouse/, in order. Each statement ends with `;` at the end of a line. */
export function readMigrations(dir: URL = SCHEMA_DIR): Migration[] {
  return fs
    .readdirSync(dir)
    .filter((file) => /^\d{4}_.+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 4)),
      name: file,
      statements: splitStatements(fs.readFileSync(new URL(file, dir), 'utf8')),
    }))
}

export function splitStatements(sql: string): string[] {
  return sql
    .split(/;[ \t]*(?:\r?\n|$)/)
    .map((statement) => statement.trim())
    .filter((statement) => statement.replace(/--.*$/gm, '').trim() !== '')
}

/**
 * Applies the migrations not yet recorded in schema_migrations, in order. Statements are
 * idempotent (IF NOT EXISTS), so a migration interrupted half-way is simply run again.
 * Returns the names of the migrations applied by this call.
 */
export async function migrate(client: ClickHouseClient, migrations: Migration[] = readMigrations()): Promise<string[]> {
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS schema_migrations
      (version UInt32, name String, applied_at DateTime('UTC') DEFAULT now())
      ENGINE = MergeTree ORDER BY version`,
  })
  const result = await client.query({ query: 'SELECT version FROM schema_migrations', format: 'JSONEachRow' })
  const applied = new Set((await result.json<{ version: number }>()).map((row) => row.version))
  const done: string[] = []
  for (const migration of migrations) {
    if (applied.has(migration.version)) continue
    for (const statement of migration.statements) await client.command({ query: statement })
    await client.insert({
      table: 'schema_migrations',
      values: [{ version: migration.version, name: migration.name }],
      format: 'JSONEachRow',
    })
    done.push(migration.name)
  }
  return done
}
