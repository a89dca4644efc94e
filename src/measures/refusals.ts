import type { Middleware } from 'koa'
import { toHttpError } from '../http/errors.ts'
import type { Metrics } from '../metrics/metrics.ts'
import { QueueFull } from './writer.ts'

/**
 * Why a write was refused, as a metric label: the class of its public message, found by the
 * message's fixed beginning. Never the message itself, which may quote the client's input (an
 * unknown measure name, a group key).
 */
const BY_MESSAGE: [prefix: string, reason: string][] = [
  ['The measure cannot be empty', 'empty'],
  ['The measures cannot be empty', 'empty'],
  ['A measure name must be given', 'measure_name'],
  ['No measure definition found for: ', 'unknown_measure'],
  ['A value must be given', 'value'],
  ['value type is incorrect', 'value'],
  ['startDate must be given', 'start_date'],
  ['startDate type is incorrect', 'start_date'],
  ['groups format is incorrect', 'groups'],
  ['Group1 key does not match', 'groups'],
  ['Group2 key does not match', 'groups'],
  ['Group3 key does not match', 'groups'],
  ['createdBy type is incorrect', 'created_by'],
  ['contributor type is incorrect', 'contributor'],
  ['Idempotency-Key must be', 'idempotency_key'],
  ['Malformed ', 'malformed'],
  ['The body must be a JSON array', 'malformed'],
]

/** Every reason, `other` being a 4xx message missing from the list above (a test keeps it unused). */
export const REFUSAL_REASONS = [
  ...new Set(BY_MESSAGE.map(([, reason]) => reason)),
  'too_large',
  'media_type',
  'backlog_full',
  'unavailable',
  'internal',
  'other',
]

export function refusalReason(err: unknown): string {
  if (err instanceof QueueFull) return 'backlog_full'
  const { status, message } = toHttpError(err)
  if (status === 413) return 'too_large'
  if (status === 415) return 'media_type'
  if (status === 503) return 'unavailable'
  if (status >= 500) return 'internal'
  return BY_MESSAGE.find(([prefix]) => message.startsWith(prefix))?.[1] ?? 'other'
}

/** Counts the refusals of what follows it (body parsing, validation, the write), by reason. */
export function countRefusals({ refused }: Metrics['writes']): Middleware {
  for (const reason of REFUSAL_REASONS) refused.inc({ reason }, 0)
  return async (_ctx, next) => {
    try {
      await next()
    } catch (err) {
      refused.inc({ reason: refusalReason(err) })
      throw err
    }
  }
}
