import crypto from 'node:crypto'
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose'
import { DAY_MS } from '../dates.ts'
import { UsageError } from '../errors.ts'
import { storedSecret } from '../store/settings.ts'
import { cached, type Store } from '../store/store.ts'

import { DEFAULT_SCOPES, type Scope } from './scopes.ts'

export type TokenInfo = {
  id: string
  org: string
  scopes: Scope[]
  createdAt: string
  expiresAt: string | null
  revokedAt: string | null
}
export type Claims = { org: string; tokenId: string; scopes: Scope[] }

const ALGORITHM = 'HS256'
const ISSUER = 'dacc'
// Verified tokens are remembered so that the hot path does not recompute an HMAC per request;
// revocation and expiry are still checked on every use.
const VERIFIED_CACHE_SIZE = 10_000

/**
 * Tokens are JWTs signed with the deployment's key: the server verifies them from memory.
 * Each one has a row in SQLite (never the token itself) so that the CLI can list and revoke it;
 * the server's copy of the valid ids is reloaded as soon as the store changes.
 *
 * Tokens of the original service (plain random strings its producers keep sending, imported by
 * dacc import-original) are kept as the SHA-256 of the token: a fast hash is enough for random
 * tokens of that length (a UUID's 122 bits cannot be searched), and lets a request's token be
 * found by its hash. They carry the API's two scopes, as every token of the original could write and read,
 * and are listed and revoked like the others.
 */
export function createTokens(store: Store, configuredKey: string) {
  const key = new TextEncoder().encode(configuredKey || storedSecret(store, 'signing_key'))
  const { db } = store
  const insertOrg = db.prepare('INSERT OR IGNORE INTO orgs (name, created_at) VALUES (?, ?)')
  const orgExists = db.prepare('SELECT 1 FROM orgs WHERE name = ?').pluck()
  const insertToken = db.prepare('INSERT INTO tokens (id, org, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?)')
  const revokeOrg = db.prepare('UPDATE tokens SET revoked_at = ? WHERE org = ? AND revoked_at IS NULL')
  const deleteOrgRow = db.prepare('DELETE FROM orgs WHERE name = ?')
  const listByOrg = db.prepare('SELECT * FROM tokens WHERE org = ? ORDER BY created_at, id')
  const insertAdopted = db.prepare(
    'INSERT OR IGNORE INTO tokens (id, org, scopes, created_at, hash) VALUES (?, ?, ?, ?, ?)',
  )
  const activeIds = cached(
    store,
    () => new Set(db.prepare('SELECT id FROM tokens WHERE revoked_at IS NULL').pluck().all() as string[]),
  )
  const adoptedByHash = cached(store, () => {
    const rows = db
      .prepare('SELECT id, org, scopes, hash FROM tokens WHERE hash IS NOT NULL AND revoked_at IS NULL')
      .all() as { id: string; org: string; scopes: string; hash: string }[]
    return new Map(
      rows.map((row) => [row.hash, { org: row.org, tokenId: row.id, scopes: row.scopes.split(' ') as Scope[] }]),
    )
  })
  const verified = new Map<string, { claims: Claims; exp?: number }>()

  async function issue(org: string, scopes: Scope[], expiresInDays?: number): Promise<string> {
    const id = crypto.randomUUID()
    const now = new Date()
    const expiresAt = expiresInDays ? new Date(now.getTime() + expiresInDays * DAY_MS) : null
    const jwt = new SignJWT({ org, scope: scopes.join(' ') })
      .setProtectedHeader({ alg: ALGORITHM })
      .setIssuer(ISSUER)
      .setJti(id)
      .setIssuedAt(Math.floor(now.getTime() / 1000))
    if (expiresAt) jwt.setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
    const token = await jwt.sign(key)
    db.transaction(() => {
      insertOrg.run(org, now.toISOString())
      insertToken.run(id, org, scopes.join(' '), now.toISOString(), expiresAt?.toISOString() ?? null)
    })()
    store.touch()
    return token
  }

  function requireOrg(org: string): void {
    if (!orgExists.get(org)) throw new UsageError(`unknown org: ${org}`)
  }

  return {
    create(org: string, scopes: Scope[] = [...DEFAULT_SCOPES], expiresInDays?: number): Promise<string> {
      if (String(org).trim() === '') throw new UsageError('an org name cannot be empty')
      return issue(String(org), scopes, expiresInDays)
    },

    list(org: string): TokenInfo[] {
      requireOrg(org)
      return (listByOrg.all(org) as Record<string, string | null>[]).map((row) => ({
        id: row.id!,
        org: row.org!,
        scopes: row.scopes!.split(' ') as Scope[],
        createdAt: row.created_at!,
        expiresAt: row.expires_at,
        revokedAt: row.revoked_at,
      }))
    },

    /** Revokes every valid token of the org and issues a new one with the same scopes. */
    async rotate(org: string, expiresInDays?: number): Promise<string> {
      requireOrg(org)
      const current = this.list(org).find((token) => !token.revokedAt)
      revokeOrg.run(new Date().toISOString(), org)
      store.touch()
      return issue(org, current?.scopes ?? [...DEFAULT_SCOPES], expiresInDays)
    },

    /**
     * Keeps a token of the original service (`dacc import-original`) as its hash, with both scopes,
     * for `org`. False when it is known already: imported before, whether still valid or revoked
     * since (an import run again never brings a revoked token back).
     */
    adopt(org: string, token: string): boolean {
      const hash = sha256(token)
      const now = new Date().toISOString()
      const adopted = db.transaction(() => {
        if (insertAdopted.run(`original-${hash.slice(0, 12)}`, org, DEFAULT_SCOPES.join(' '), now, hash).changes === 0)
          return false
        insertOrg.run(org, now)
        return true
      })()
      if (adopted) store.touch()
      return adopted
    },

    deleteOrg(org: string): number {
      requireOrg(org)
      const revoked = db.transaction(() => {
        const { changes } = revokeOrg.run(new Date().toISOString(), org)
        deleteOrgRow.run(org)
        return changes
      })()
      store.touch()
      return revoked
    },

    /** The claims of a valid token, or null for a forged, expired, revoked or malformed one. */
    async verify(token: string): Promise<Claims | null> {
      let entry = verified.get(token)
      if (!entry) {
        try {
          const { payload } = await jwtVerify(token, key, { algorithms: [ALGORITHM], issuer: ISSUER })
          if (typeof payload.org !== 'string' || typeof payload.jti !== 'string' || typeof payload.scope !== 'string')
            return null
          entry = {
            claims: { org: payload.org, tokenId: payload.jti, scopes: payload.scope.split(' ') as Scope[] },
            exp: payload.exp,
          }
        } catch (err) {
          if (!(err instanceof joseErrors.JOSEError)) throw err
          // Not one of ours: maybe a token of the original service, known by its hash.
          const claims = adoptedByHash().get(sha256(token))
          if (!claims) return null
          entry = { claims }
        }
        if (verified.size >= VERIFIED_CACHE_SIZE) verified.clear()
        verified.set(token, entry)
      }
      if (entry.exp !== undefined && entry.exp * 1000 <= Date.now()) return null
      return activeIds().has(entry.claims.tokenId) ? entry.claims : null
    },
  }
}

export type Tokens = ReturnType<typeof createTokens>

const sha256 = (token: string) => crypto.createHash('sha256').update(token).digest('hex')
