import { parseRangeDate } from '../dates.ts'
import { GROUPS, groupWithoutKey, type Definition, type Group } from '../definitions/schema.ts'
import { badRequest, HttpError } from '../errors.ts'
import { ajv, errorField } from '../validation.ts'
import { PERIODS, type Period } from './compute.ts'

const groupNames = { type: 'string', pattern: '^ *(group[123] *(, *group[123] *)*)?$' }

/** The parameters of GET or POST /aggregate (a JSON body, or the query string, where every value is a string). */
export const aggregateParamsSchema = {
  type: 'object',
  required: ['measureName', 'startDate', 'endDate'],
  properties: {
    measureName: { type: 'string', description: 'name of a measure definition with accessApp or accessPublic' },
    startDate: {
      type: 'string',
      format: 'range-date',
      description: 'first stored bucket to read (inclusive): YYYY-MM-DD or an ISO-8601 date-time',
    },
    endDate: { type: 'string', format: 'range-date', description: 'end of the stored buckets to read (exclusive)' },
    createdBy: {
      type: ['string', 'null'],
      description: 'only the measures of this producing app ("" for those sent without createdBy)',
    },
    period: {
      enum: [...PERIODS, null],
      description:
        'merge the stored buckets into days, ISO weeks, months or years, labelled with their first instant; absent: the stored buckets. A measure with fixedPublication has one period, its aggregationPeriod (docs/privacy.md)',
    },
    wildcard: {
      description:
        'also return the rollup of these groups, which read "*": "group2", "group1,group3" or ["group1", "group3"]. In an answer with rollups, rows may be left out beyond the threshold so that none under it can be computed by subtraction; a measure with fixedPublication has its registered rollups only (docs/privacy.md)',
      anyOf: [groupNames, { type: 'array', items: groupNames }, { type: 'null' }],
    },
  },
} as const

const validateShape = ajv.compile(aggregateParamsSchema)

export type AggregateParams = {
  definition: Definition
  /** `YYYY-MM-DD hh:mm:ss` */
  startDate: string
  endDate: string
  createdBy: string | null
  period: Period | null
  /** The groups of the request's ad-hoc rollup, in column order; empty for none. */
  wildcard: Group[]
}

/**
 * Validates the parameters of an aggregate request. The original's checks come first, in its
 * order and wording (the access check before the dates, as it did); ajv reports every fault at
 * once and the first applicable message below wins.
 */
export function toAggregateParams(
  input: unknown,
  findDefinition: (name: string) => Definition | undefined,
): AggregateParams {
  if (input === null || typeof input !== 'object' || Array.isArray(input) || Object.keys(input).length === 0) {
    throw badRequest('The params cannot be empty')
  }
  const params = input as Record<string, unknown>
  const faulty = validateShape(params) ? new Set<string>() : new Set(validateShape.errors!.map(errorField))
  if (params.measureName == null) throw badRequest('A measure name must be given')
  const definition = faulty.has('measureName') ? undefined : findDefinition(params.measureName as string)
  if (!definition) throw badRequest(`No measure definition found for: ${params.measureName}`)
  if (!definition.accessApp && !definition.accessPublic) {
    throw new HttpError(403, `You cannot access results for this measure: ${definition.name}`)
  }
  for (const field of ['startDate', 'endDate']) {
    if (params[field] == null) throw badRequest(`${field} must be given`)
    if (faulty.has(field)) throw badRequest(`${field} type is incorrect, it must be a date`)
  }
  if (faulty.has('period')) throw badRequest(`period must be one of ${PERIODS.join(', ')}`)
  const period = periodOf(params.period as Period | null | undefined, definition)
  const wildcard = wildcardOf(params.wildcard, faulty.has('wildcard'), definition)
  if (faulty.has('createdBy')) throw badRequest('createdBy type is incorrect, it must be a string')
  return {
    definition,
    startDate: parseRangeDate(params.startDate as string)!, // the format check above guarantees they parse
    endDate: parseRangeDate(params.endDate as string)!,
    createdBy: (params.createdBy as string | null | undefined) ?? null,
    period,
    wildcard,
  }
}

/**
 * The period asked, or for a definition with fixedPublication the only one it is published
 * by, its aggregationPeriod (its stored buckets without one): answers by two granularities could
 * be subtracted from each other (a week minus its shown days), so such a measure has one.
 */
function periodOf(asked: Period | null | undefined, definition: Definition): Period | null {
  if (!definition.fixedPublication) return asked ?? null
  const only = definition.aggregationPeriod ?? null
  if ((asked ?? only) !== only) {
    throw badRequest(
      only
        ? `period must be ${only} for this measure, the only one it is published by`
        : 'period must be absent for this measure, which is published by its stored buckets only',
    )
  }
  return only
}

function wildcardOf(value: unknown, faulty: boolean, definition: Definition): Group[] {
  const items: unknown[] = Array.isArray(value) ? value : [value]
  const names = items
    .flatMap((item) => (typeof item === 'string' ? item.split(',') : []))
    .map((name) => name.trim())
    .filter((name) => name !== '')
  const unknown = names.find((name) => !(GROUPS as readonly string[]).includes(name))
  if (unknown !== undefined)
    throw badRequest(`wildcard group is unknown: ${unknown}, it must be one of ${GROUPS.join(', ')}`)
  if (faulty) throw badRequest('wildcard type is incorrect, it must be group names, comma-separated or in a list')
  const missing = groupWithoutKey(definition, names)
  if (missing) throw badRequest(`wildcard group does not match measure definition: ${missing}`)
  return GROUPS.filter((group) => names.includes(group))
}
