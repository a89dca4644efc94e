import crypto from 'node:crypto'
import type { Store } from './store.ts'

/**
 * A deployment secret kept in the settings table under `key`, generated at first use: the
 * fallback of a secret left empty in the configuration (the token signing key, the privacy secret).
 * INSERT OR IGNORE: if the server and the CLI start at once, both end up with the first one.
 */
export function storedSecret(store: Store, key: string): string {
  const select = store.db.prepare('SELECT value FROM settings WHERE key = ?').pluck()
  const existing = select.get(key) as string | undefined
  if (existing) return existing
  store.db
    .prepare('INSERT OR IGNORE INTO settings (key, value) VALUES (?, ?)')
    .run(key, crypto.randomBytes(32).toString('base64url'))
  return select.get(key) as string
}
