import crypto from 'node:crypto'
import { badRequest } from '../errors.ts'

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
