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
}

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
  },
} as const

export const definitionsFileSchema = {
  type: 'object',
  required: ['definitions'],
  additionalProperties: false,
  properties: { definitions: { type: 'array', items: definitionSchema } },
} as const
