import fs from 'node:fs'
import path from 'node:path'
import Database from 'better-sqlite3'
import { UsageError } from '../errors.ts'

/**
 * The idempotency keys acknowledged within the window, in SQLite beside the journal: a retry is
 * answered from here, without ClickHouse. A key is added right after its request's rows are
 * durable in the journal, so a crash in between leaves it only in the journal, from which the
 * server adds it again at start (`add` of the recovered segments' whole frames) before it
 * answers anyone.
 *
 * Durability: commits are not flushed one by one (synchronous = NORMAL: an fsync per keyed group
 * would double the wait of every keyed request), since the journal holds every key of a segment
 * it still has. The keys must be on disk before that segment leaves it: the loader calls `sync()`
 * (a checkpoint: SQLite flushes the WAL, then the database) before it removes a loaded segment.
 *
 * Size: one row per keyed request of the last `ingest.idempotencyWindowSeconds` (plus up to one
 * prune interval), ≈ 100 bytes each with its index: 1 million keyed requests a day, ≈ 100 MB.
 * `prune()` runs on a schedule (server.ts) and SQLite reuses the freed pages.
 *
 * The database is opened in exclusive locking mode: it is the lock of the journal directory, so
 * that two servers never append to (or load) one journal.
 */
export class IdempotencyKeys {
  #db: Database.Database
  #window: number
  #select: Database.Statement
  #upsert: Database.Statement
  #prune: Database.Statement
  /** True when the file was just created: keys of an older version live in raw_measures only. */
  readonly created: boolean

  private constructor(db: Database.Database, windowSeconds: number, created: boolean) {
    this.#db = db
    this.#window = windowSeconds * 1000
    this.created = created
    this.#select = db.prepare('SELECT 1 FROM idempotency_keys WHERE key = ? AND received_at >= ?').pluck()
    // A key seen again after its window is a new request: its receipt time moves on (never back:
    // the keys recovered from the journal at start may be older than the index's).
    this.#upsert = db.prepare(
      `INSERT INTO idempotency_keys (key, received_at) VALUES (?, ?)
       ON CONFLICT (key) DO UPDATE SET received_at = max(received_at, excluded.received_at)`,
    )
    this.#prune = db.prepare('DELETE FROM idempotency_keys WHERE received_at < ?')
  }

  static open(dir: string, windowSeconds: number): IdempotencyKeys {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    const file = path.join(dir, 'keys.sqlite')
    const db = new Database(file)
    fs.chmodSync(file, 0o600)
    try {
      db.pragma('locking_mode = EXCLUSIVE')
      db.pragma('journal_mode = WAL')
      db.pragma('synchronous = NORMAL')
      const created = (db.pragma('user_version', { simple: true }) as number) === 0
      db.exec(`
        CREATE TABLE IF NOT EXISTS idempotency_keys (
          key         TEXT PRIMARY KEY, -- hash of (token id, Idempotency-Key header)
          received_at INTEGER NOT NULL  -- when its request was acknowledged, in ms: kept for the idempotency window
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS idempotency_keys_by_time ON idempotency_keys (received_at);
        PRAGMA user_version = 1;
      `)
      return new IdempotencyKeys(db, windowSeconds, created)
    } catch (err) {
      db.close()
      if ((err as { code?: string }).code === 'SQLITE_BUSY') {
        throw new UsageError(
          `the journal ${dir} is in use by another process (a running dacc serve?); each server needs its own ingest.journalDir`,
        )
      }
      throw err
    }
  }

  /** Whether `key` was acknowledged within the window. */
  has(key: string, now = Date.now()): boolean {
    return this.#select.get(key, now - this.#window) !== undefined
  }

  /** Records keys with the time (ms) their requests were acknowledged. */
  add(entries: Iterable<[key: string, receivedAt: number]>): void {
    this.#db.transaction(() => {
      for (const [key, at] of entries) this.#upsert.run(key, at)
    })()
  }

  /** Forgets the keys older than the window; returns how many. */
  prune(now = Date.now()): number {
    return this.#prune.run(now - this.#window).changes
  }

  /** Flushes every key added so far to disk (a WAL checkpoint: the WAL is synced before it, the database after). */
  sync(): void {
    this.#db.pragma('wal_checkpoint(PASSIVE)')
  }

  /** How many keys the index holds (expired ones not yet pruned included). */
  get size(): number {
    return this.#db.prepare('SELECT count(*) FROM idempotency_keys').pluck().get() as number
  }

  close(): void {
    this.#db.close()
  }
}
