import { parseDate } from '../dates.ts'
import { GROUPS, groupKeys, type Definition } from '../definitions/schema.ts'
import { badRequest } from '../errors.ts'
import { ajv, errorField, MAX_ABS_VALUE } from '../validation.ts'

// A group that is present must be an object with one key: null, a list, a string or {} is
// "groups format is incorrect", as the original said; only an absent required group reads "None".
const group = {
  type: 'object',
  minProperties: 1,
  maxProperties: 1,
  propertyNames: { format: 'text' },
  additionalProperties: { type: ['string', 'number', 'boolean'], maxLength: 1000, format: 'text' },
}

/** The shape of one measure (POST /measure, and each item of POST /measures). */
export const measureSchema = {
  type: 'object',
  required: ['measureName', 'value', 'startDate'],
  properties: {
    measureName: { type: 'string', description: 'name of a measure definition' },
    value: {
      description: `a number, at most ${MAX_ABS_VALUE} in absolute value; a numeric string such as "42" is accepted, as the original did`,
      anyOf: [
        { type: 'number', minimum: -MAX_ABS_VALUE, maximum: MAX_ABS_VALUE },
        { type: 'string', format: 'numeric-string' },
      ],
    },
    startDate: {
      type: 'string',
      format: 'dacc-date',
      description: 'YYYY-MM-DD or an ISO-8601 date-time; the offset is ignored',
    },
    createdBy: {
      type: ['string', 'null'],
      maxLength: 200,
      format: 'text',
      description: 'the producing app (at most 200 characters)',
    },
    contributor: {
      type: ['string', 'null'],
      minLength: 1,
      maxLength: 200,
      format: 'text',
      description:
        'an opaque pseudonym of the sending instance, which derives it itself; stored only as a keyed hash, to count distinct contributors (docs/privacy.md)',
    },
    group1: { ...group, description: 'required iff the definition has group1Key: {"<group1Key>": value}' },
    group2: { ...group, description: 'required iff the definition has group2Key: {"<group2Key>": value}' },
    group3: { ...group, description: 'required iff the definition has group3Key: {"<group3Key>": value}' },
  },
} as const

const validateShape = ajv.compile(measureSchema)
const NO_FAULTS: ReadonlySet<string> = new Set()

/** The first own key of an object, without building the list of them (this runs for every measure of a batch). */
function firstKey(object: object): string | undefined {
  for (const key in object) if (Object.hasOwn(object, key)) return key
  return undefined
}

/** A measure as validated: what raw_measures stores of it (received_at and idempotency_key come with its request). */
export type Measure = {
  measureName: string
  /** `YYYY-MM-DD hh:mm:ss` */
  startDate: string
  createdBy: string
  group1: string
  group2: string
  group3: string
  value: number
  /** Copied from the definition: the aggregate view keeps quartile values only for these. */
  withQuartiles: boolean
  /** The contributor pseudonym as sent, '' for none. */
  contributor: string
}

/**
 * A measure as the journal stores it: the pseudonym replaced by its keyed hash (a UInt64 in
 * decimal, '' for none), so that no pseudonym reaches the disk or ClickHouse in clear.
 */
export type StoredMeasure = Measure

/**
 * Validates one measure and turns it into a row. The checks and their order are the original
 * service's, so that a measure with several faults gets the same message as before: ajv reports
 * every fault at once and the first applicable message below wins.
 */
export function toMeasure(body: unknown, findDefinition: (name: string) => Definition | undefined): Measure {
  if (body === null || typeof body !== 'object' || Array.isArray(body) || firstKey(body) === undefined) {
    throw badRequest('The measure cannot be empty')
  }
  const measure = body as Record<string, unknown>
  const faulty = validateShape(measure) ? NO_FAULTS : new Set(validateShape.errors!.map(errorField))
  if (measure.measureName == null) throw badRequest('A measure name must be given')
  const definition = faulty.has('measureName') ? undefined : findDefinition(measure.measureName as string)
  if (!definition) throw badRequest(`No measure definition found for: ${measure.measureName}`)
  if (measure.value == null) throw badRequest('A value must be given')
  if (faulty.has('value')) throw badRequest('value type is incorrect, it must be a number')
  if (measure.startDate == null) throw badRequest('startDate must be given')
  if (faulty.has('startDate')) throw badRequest('startDate type is incorrect, it must be a date')
  if (faulty !== NO_FAULTS && GROUPS.some((name) => faulty.has(name))) throw badRequest('groups format is incorrect')
  const keys = groupKeys(definition)
  const values = ['', '', '']
  for (let index = 0; index < GROUPS.length; index++) {
    const given = measure[GROUPS[index]] as Record<string, string | number | boolean> | undefined
    const givenKey = given === undefined ? undefined : firstKey(given)
    if ((keys[index] ?? undefined) !== givenKey) {
      // "None" for a missing group: the original's wording (Python's None).
      throw badRequest(`Group${index + 1} key does not match measure definition: ${givenKey ?? 'None'}`)
    }
    if (given !== undefined) values[index] = String(given[givenKey!])
  }
  if (faulty.has('createdBy'))
    throw badRequest('createdBy type is incorrect, it must be a string of at most 200 characters')
  if (faulty.has('contributor'))
    throw badRequest('contributor type is incorrect, it must be a string of 1 to 200 characters')
  const value = Number(measure.value)
  return {
    measureName: definition.name,
    startDate: parseDate(measure.startDate as string)!, // the format check above guarantees it parses
    createdBy: (measure.createdBy as string | null | undefined) ?? '',
    group1: values[0],
    group2: values[1],
    group3: values[2],
    // Clamped where the definition adds noise: the bounds are what the noise's sensitivity assumes.
    value: definition.noise ? Math.min(definition.noise.valueMax, Math.max(definition.noise.valueMin, value)) : value,
    withQuartiles: definition.withQuartiles === true,
    contributor: (measure.contributor as string | null | undefined) ?? '',
  }
}
