import { Ajv, type ErrorObject } from 'ajv'
import { parseDate } from './dates.ts'

/**
 * The one ajv instance: schemas are compiled once, at import of the module that declares them.
 * `allErrors` lets callers pick the error that the original service would have reported first.
 */
export const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true, useDefaults: true })

// A date as the API accepts it: YYYY-MM-DD or an ISO-8601 date-time (see dates.ts).
ajv.addFormat('dacc-date', { type: 'string', validate: (value: string) => parseDate(value) !== null })
// A number sent as a string, as the original accepted ("42", "-1.5e3"), finite once parsed.
ajv.addFormat('numeric-string', {
  type: 'string',
  validate: (value: string) => /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(value) && Number.isFinite(Number(value)),
})

export type { ErrorObject }

/** The top-level property an ajv error is about (`/group1/slug` and a required `group1` both give `group1`). */
export function errorField(error: ErrorObject): string {
  if (error.keyword === 'required') return (error.params as { missingProperty: string }).missingProperty
  return error.instancePath.split('/')[1] ?? ''
}
