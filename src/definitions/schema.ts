/** The group columns of a measure, in order (group1Key names the first...); a rollup merges some of them. */
export const GROUPS = ['group1', 'group2', 'group3'] as const
export type Group = (typeof GROUPS)[number]

/** A measure definition, as written in a definitions file (the original's camelCase format). */
export type Definition = {
  id?: number
  name: string
  org?: string | null
  createdBy?: string | null
  group1Key?: string | null
  group2Key?: string | null
  group3Key?: string | null
  description?: string | null
  aggregationPeriod?: 'day' | 'week' | 'month' | 'year' | null
  executionFrequency?: 'day' | 'week' | 'month' | 'year' | null
  aggregationThreshold: number
  accessApp: boolean
  accessPublic: boolean
  withQuartiles: boolean
  maxDaysToUpdateQuartile?: number | null
  // Privacy options (docs/privacy.md); absent, a definition answers as the original did, but that an
  // answer with rollups is always suppressed within itself (src/aggregates/suppression.ts).
  /** What aggregationThreshold counts: measures (the default), or distinct contributors. */
  thresholdOn?: 'measures' | 'contributors'
  /**
   * Published as one fixed whole, so that answers to different requests cannot be subtracted from
   * each other either: one period (aggregationPeriod), registered rollups only, whole periods.
   * (Within one answer, complementary suppression applies to every definition.)
   */
  fixedPublication?: boolean
  /** No min and max in answers. */
  hideExtremes?: boolean
  /** Discrete Laplace noise on counts and sums; values are clamped to [valueMin, valueMax] at ingest. */
  noise?: Noise | null
}

export type Noise = { epsilon: number; valueMin: number; valueMax: number }

const optionalString = { type: ['string', 'null'] }
const groupKey = { type: ['string', 'null'], minLength: 1, maxLength: 200 }
const period = { enum: ['day', 'week', 'month', 'year', null] }

export const definitionSchema = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    id: { type: 'integer' },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    org: optionalString,
    createdBy: optionalString,
    group1Key: groupKey,
    group2Key: groupKey,
    group3Key: groupKey,
    description: optionalString,
    aggregationPeriod: period,
    executionFrequency: period,
    aggregationThreshold: { type: 'integer', minimum: 1, default: 5 },
    accessApp: { type: 'boolean', default: false },
    accessPublic: { type: 'boolean', default: false },
    withQuartiles: { type: 'boolean', default: false },
    maxDaysToUpdateQuartile: { type: ['integer', 'null'], minimum: 0 },
    // No defaults for the privacy options: a definition stored before them reads the same as one loaded after.
    thresholdOn: {
      enum: ['measures', 'contributors'],
      description:
        "what aggregationThreshold counts: measures (absent), or distinct contributors, then shown as each row's contributors",
    },
    fixedPublication: {
      type: 'boolean',
      description:
        'published by one period (aggregationPeriod, stored buckets without one) and its registered rollups only, periods whole: answers to different requests are parts of one suppressed whole',
    },
    hideExtremes: { type: 'boolean', description: 'no min and max in answers' },
    noise: {
      type: ['object', 'null'],
      description:
        'discrete Laplace noise on count, countNotZero, sum (and contributors), avg computed from them; values clamped to [valueMin, valueMax] at ingest',
      required: ['epsilon', 'valueMin', 'valueMax'],
      additionalProperties: false,
      properties: {
        epsilon: { type: 'number', exclusiveMinimum: 0 },
        valueMin: { type: 'number' },
        valueMax: { type: 'number' },
      },
    },
  },
} as const

/**
 * What a reader may learn of a definition: what to ask /aggregate and how to read its answer, its
 * privacy options included (what the threshold counts, which statistics are left out or noisy,
 * which periods and rollups it is published by); not its org, owner or purge settings.
 */
export const PUBLIC_FIELDS = [
  'name',
  'description',
  'group1Key',
  'group2Key',
  'group3Key',
  'aggregationPeriod',
  'aggregationThreshold',
  'withQuartiles',
  'thresholdOn',
  'hideExtremes',
  'noise',
  'fixedPublication',
] as const satisfies readonly (keyof Definition)[]

/** One item of GET /definitions, picked from the definitions file schema so the two cannot drift. */
export const publicDefinitionSchema = {
  type: 'object',
  required: ['name', 'aggregationThreshold', 'withQuartiles'],
  additionalProperties: false,
  properties: Object.fromEntries(PUBLIC_FIELDS.map((field) => [field, definitionSchema.properties[field]])),
}

export const definitionsFileSchema = {
  type: 'object',
  required: ['definitions'],
  additionalProperties: false,
  properties: { definitions: { type: 'array', items: definitionSchema } },
} as const

const keysOf = new WeakMap<Definition, readonly (string | null)[]>()

/** The group keys a definition declares, by position (index 0 = group1); one array a definition (it is read per measure of a batch). */
export function groupKeys(definition: Definition): readonly (string | null)[] {
  let keys = keysOf.get(definition)
  if (!keys)
    keysOf.set(
      definition,
      (keys = Object.freeze([
        definition.group1Key ?? null,
        definition.group2Key ?? null,
        definition.group3Key ?? null,
      ])),
    )
  return keys
}

/** The first of `groups` that the definition has no key for: a rollup of it would mean nothing. */
export function groupWithoutKey(definition: Definition, groups: readonly string[]): Group | undefined {
  const keys = groupKeys(definition)
  return GROUPS.find((group, index) => groups.includes(group) && keys[index] === null)
}
