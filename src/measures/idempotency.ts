import crypto from 'node:crypto'
import type { ClickHouseClient } from '../clickhouse/client.ts'
import { badRequest } from '../errors.ts'
import { insertMeasures, storedIdempotencyKeys, type Queued } from './queries.ts'

const HEADER_VALUE = /^[\x21-\x7e]{1,255}$/

/**
 * The stored form of an Idempotency-Key header: scoped to the token (two producers may pick the
 * same key) and hashed to a fixed size. '' when the request has none.
 */
export function idempotencyKeyOf(header: string | undefined, tokenId: string): string {
  if (header === undefined || header === '') return ''
  if (!HEADER_VALUE.test(header)) throw badRequest('Idempotency-Key must be 1 to 255 visible ASCII characters')
  return crypto.createHash('sha256').update(`${tokenId}\0${header}`).digest('hex').slice(0, 32)
}

/**
 * The batcher's write: drops the requests whose key is already stored (a retry of an acknowledged
 * request, maybe from before a restart) or already taken by an earlier request of the same batch,
 * then inserts the rest. Batches are written one at a time, so a key written by one batch is seen
 * by the next one's lookup. Requests without a key cost no lookup.
 */
export function measureWriter(client: ClickHouseClient, windowSeconds: number) {
  return async (batch: Queued[]): Promise<void> => {
    const keys = [...new Set(batch.map((queued) => queued.idempotencyKey).filter(Boolean))]
    const stored = keys.length ? await storedIdempotencyKeys(client, keys, windowSeconds) : new Set<string>()
    const fresh = batch.filter(({ idempotencyKey }) => {
      if (!idempotencyKey) return true
      if (stored.has(idempotencyKey)) return false
      stored.add(idempotencyKey)
      return true
    })
    if (fresh.length) await insertMeasures(client, fresh)
  }
}
