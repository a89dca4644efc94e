import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { MIGRATIONS } from './schema.ts'

export type Store = {
  db: Database.Database
  /**
   * A number that changes whenever the store's content may have changed: a commit by another
   * connection (the CLI, seen through SQLite's data_version) or a write made through this one
   * (`touch`). Caches compare it on every use, so a token revoked by the CLI is refused by the
   * server's next request. It is read once per turn of the event loop: every request handled in
   * one turn began before that turn's first read, and a change committed meanwhile shows from the
   * next turn on. (data_version takes a read lock: read per request, it cost a third of the
   * server's CPU at 10,000 requests a second.)
   */
  version(): number
  touch(): void
  close(): void
}

/**
 * Makes `dir` private to its owner (0700), creating it if needed: it holds the token signing key
 * and the privacy secret (in the store) and every measure. True when an existing directory was
 * open to others and has been tightened.
 */
export function privateDirectory(dir: string): boolean {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  if ((fs.statSync(dir).mode & 0o077) === 0) return false
  fs.chmodSync(dir, 0o700)
  return true
}

export function openStore(dataDir: string): Store {
  privateDirectory(dataDir)
  const file = path.join(dataDir, 'dacc.sqlite')
  const db = new Database(file)
  // SQLite gives its -wal and -shm files the database file's mode.
  fs.chmodSync(file, 0o600)
  db.pragma('journal_mode = WAL')
  db.pragma('busy_timeout = 5000')
  db.pragma('foreign_keys = ON')
  migrate(db)
  const dataVersion = db.prepare('PRAGMA data_version').pluck()
  let local = 0
  let current: number | undefined
  const forget = () => {
    current = undefined
  }
  return {
    db,
    version: () => {
      if (current === undefined) {
        current = (dataVersion.get() as number) * 1_000_000 + local
        setImmediate(forget)
      }
      return current
    },
    touch: () => {
      local = (local + 1) % 1_000_000
      forget()
    },
    close: () => db.close(),
  }
}

/** Brings the schema to the last version, one transaction per step, recorded in PRAGMA user_version. */
function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number
  MIGRATIONS.slice(current).forEach((sql, index) => {
    db.transaction(() => {
      db.exec(sql)
      db.pragma(`user_version = ${current + index + 1}`)
    })()
  })
}

/** Memoizes `load()` until the store's version changes. */
export function cached<T>(store: Store, load: () => T): () => T {
  let version = -1
  let value: T
  return () => {
    const now = store.version()
    if (now !== version) {
      value = load()
      version = now
    }
    return value
  }
}
