import { Ajv, type ErrorObject } from 'ajv'
import { parseDate, parseRangeDate } from './dates.ts'

/**
 * The one ajv instance: schemas are compiled once, at import of the module that declares them.
 * `allErrors` lets callers pick the error that the original service would have reported first.
 */
export const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, useDefaults: true })

// A date as the API accepts it: YYYY-MM-DD or an ISO-8601 date-time (see dates.ts).
ajv.addFormat('dacc-date', { type: 'string', validate: (value: string) => parseDate(value) !== null })
// A date bounding a range to read: any real date (beyond what ClickHouse holds, the range's end).
ajv.addFormat('range-date', { type: 'string', validate: (value: string) => parseRangeDate(value) !== null })
/**
 * The largest measure value, in absolute terms. The original stored NUMERIC(12,2); far beyond
 * anything measured, this keeps sums of millions of values finite, where one value near
 * Number.MAX_VALUE would make a bucket's sum, average and variance infinite for good.
 */
export const MAX_ABS_VALUE = 1e15

// A number sent as a string, as the original accepted ("42", "-1.5e3"), within the bound once parsed.
ajv.addFormat('numeric-string', {
  type: 'string',
  validate: (value: string) =>
    /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(value) && Math.abs(Number(value)) <= MAX_ABS_VALUE,
})
// Text ClickHouse can store: no lone UTF-16 surrogate (JSON can carry "\ud800"; such a string
// would fail the whole INSERT of its batch, other producers' measures with it).
ajv.addFormat('text', { type: 'string', validate: (value: string) => !/\p{Cs}/u.test(value) })

export type { ErrorObject }

/** The top-level property an ajv error is about (`/group1/slug` and a required `group1` both give `group1`). */
export function errorField(error: ErrorObject): string {
  if (error.keyword === 'required') return (error.params as { missingProperty: string }).missingProperty
  return error.instancePath.split('/')[1] ?? ''
}
