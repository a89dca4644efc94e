import fs from 'node:fs'
import path from 'node:path'
import { ROOT } from '../root.ts'
import type { ClickHouseClient } from './client.ts'
import { renderForCluster } from './cluster.ts'

const SCHEMA_DIR = path.join(ROOT, 'clickhouse')

export type Migration = { version: number; name: string; statements: string[] }

/** The numbered SQL files of clickhouse/, in order. Each statement ends with `;` at the end of a line. */
export function readMigrations(dir: string = SCHEMA_DIR): Migration[] {
  return fs
    .readdirSync(dir)
    .filter((file) => /^\d{4}_.+\.sql$/.test(file))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 4)),
      name: file,
      statements: splitStatements(fs.readFileSync(path.join(dir, file), 'utf8')),
    }))
}

export function splitStatements(sql: string): string[] {
  return sql
    .split(/;[ \t]*(?:\r?\n|$)/)
    .map((statement) => statement.trim())
    .filter((statement) => statement.replace(/--.*$/gm, '').trim() !== '')
}

/** The migrator's own record of what it applied; rendered for a cluster like the migrations. */
export const SCHEMA_MIGRATIONS = `CREATE TABLE IF NOT EXISTS schema_migrations
  (version UInt32, name String, applied_at DateTime('UTC') DEFAULT now())
  ENGINE = MergeTree ORDER BY version`

export type MigrateOptions = {
  /** A ClickHouse cluster name: every statement is rendered for it (see cluster.ts). */
  cluster?: string
}

/**
 * Applies the migrations not yet recorded in schema_migrations, in order. Statements are
 * idempotent (IF NOT EXISTS), so a migration interrupted half-way is simply run again.
 * Returns the names of the migrations applied by this call.
 */
export async function migrate(client: ClickHouseClient, { cluster = '' }: MigrateOptions = {}): Promise<string[]> {
  const apply = async (statement: string) => {
    for (const query of renderForCluster(statement, cluster)) await client.command({ query })
  }
  await apply(SCHEMA_MIGRATIONS)
  const result = await client.query({ query: 'SELECT version FROM schema_migrations', format: 'JSONEachRow' })
  const applied = new Set((await result.json<{ version: number }>()).map((row) => row.version))
  const done: string[] = []
  for (const migration of readMigrations()) {
    if (applied.has(migration.version)) continue
    for (const statement of migration.statements) await apply(statement)
    await client.insert({
      table: 'schema_migrations',
      values: [{ version: migration.version, name: migration.name }],
      format: 'JSONEachRow',
    })
    done.push(migration.name)
  }
  return done
}
