import { aggregateParamsSchema } from '../aggregates/schema.ts'
import { publicDefinitionSchema } from '../definitions/schema.ts'
import { measureSchema } from '../measures/schema.ts'

// Request schemas are the very objects the routes compile with ajv, so the document cannot drift
// from what is validated. Responses have no validator of their own: they are described here, and
// test/openapi checks real answers against these descriptions.

const error = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: { error: { type: 'string', description: 'what went wrong, in words safe to show' } },
}

const batchError = {
  ...error,
  properties: {
    ...error.properties,
    index: {
      type: 'integer',
      minimum: 0,
      description: 'position (from 0) of the first invalid measure; nothing of the batch was stored',
    },
  },
}

const group = {
  type: 'object',
  minProperties: 1,
  maxProperties: 1,
  additionalProperties: { type: 'string' },
  description: '{"<groupNKey>": value}; the value reads "*" on a rolled-up (wildcard) row',
}

const decimal = (description: string) => ({
  type: 'number',
  description: `${description}, rounded to 2 places (half away from zero)`,
})

// What format.ts writes, privacy options included (docs/privacy.md): hideExtremes leaves out min and
// max, thresholdOn contributors adds contributors, noise may bring a count to 0, which has no avg.
const aggregateRow = {
  type: 'object',
  description:
    "one bucket whose count (or contributors, with thresholdOn contributors) reaches the definition's aggregationThreshold; " +
    'in an answer with rollups, rows may also be left out so that none under the threshold follows by subtraction. Keys sorted, absent fields omitted',
  required: ['count', 'countNotZero', 'measureName', 'startDate', 'std', 'sum'],
  additionalProperties: false,
  properties: {
    avg: decimal('mean; absent only when a noisy count is 0'),
    contributors: {
      type: 'integer',
      minimum: 0,
      description: 'distinct contributors (thresholdOn contributors definitions only); noisy with noise',
    },
    count: {
      type: 'integer',
      minimum: 0,
      description: 'number of measures; noisy with noise, which may bring it to 0',
    },
    countNotZero: {
      type: 'integer',
      minimum: 0,
      description: 'number of measures whose value is not 0; noisy with noise',
    },
    createdBy: { type: 'string', description: 'the producing app; absent for measures sent without one' },
    firstQuartile: decimal('exact first quartile, linear interpolation (withQuartiles definitions only)'),
    group1: group,
    group2: group,
    group3: group,
    max: decimal('largest value (absent with hideExtremes)'),
    measureName: { type: 'string' },
    median: decimal('exact median (withQuartiles definitions only)'),
    min: decimal('smallest value (absent with hideExtremes)'),
    startDate: {
      type: 'string',
      pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}$',
      description: 'the bucket, or the first instant of the period',
    },
    std: decimal('sample standard deviation (n−1; 0 for one value)'),
    sum: decimal('sum; noisy with noise'),
    thirdQuartile: decimal('exact third quartile (withQuartiles definitions only)'),
  },
}

const check = {
  type: 'object',
  required: ['status'],
  properties: {
    status: { enum: ['ok', 'ko'] },
    version: { type: 'string', description: 'the server version, when it answers' },
    backlog: { type: 'integer', description: 'measures acknowledged and not yet loaded into ClickHouse' },
    error: { type: 'string', description: 'why it does not answer' },
  },
}

const status = {
  type: 'object',
  required: ['db', 'sqlite', 'writes', 'global_status'],
  additionalProperties: false,
  properties: {
    db: { ...check, description: 'ClickHouse, where the measures live' },
    sqlite: { ...check, description: 'the definitions and tokens store' },
    writes: {
      ...check,
      description: 'the write path: ko while the journal cannot be written or loading into ClickHouse fails',
    },
    global_status: { enum: ['ok', 'ko'] },
  },
}

export const schemas = {
  Measure: measureSchema,
  AggregateParams: aggregateParamsSchema,
  AggregateRow: aggregateRow,
  PublicDefinition: publicDefinitionSchema,
  Status: status,
  Error: error,
  BatchError: batchError,
}

export const ref = (name: keyof typeof schemas) => ({ $ref: `#/components/schemas/${name}` })

const errorResponse = (description: string, headers: Record<string, string> = {}, schema = ref('Error')) => ({
  description,
  ...(Object.keys(headers).length > 0 && {
    headers: Object.fromEntries(
      Object.entries(headers).map(([name, about]) => [name, { description: about, schema: { type: 'string' } }]),
    ),
  }),
  content: { 'application/json': { schema } },
})

export const responses = {
  BadRequest: errorResponse(
    "invalid parameters or malformed JSON; the message names the first fault, in the original service's order",
  ),
  Unauthorized: errorResponse(
    'missing, malformed, unknown, expired or revoked token: {"error": "Unauthorized Access"}',
    {
      'WWW-Authenticate': 'Bearer realm="Authentication Required"',
    },
  ),
  Forbidden: errorResponse('the token lacks the scope of this route'),
  PayloadTooLarge: errorResponse('the body is over the configured limit'),
  UnsupportedMediaType: errorResponse('the body is not of an accepted Content-Type'),
  Unavailable: errorResponse('ClickHouse could not be reached or the write queue is full; retry later', {
    'Retry-After': 'seconds to wait before retrying',
  }),
  NotFound: errorResponse('no such route or file: {"error": "Not found: <METHOD> <path>"}'),
  BatchBadRequest: errorResponse(
    'an invalid measure (with its index) or body; nothing was stored',
    {},
    ref('BatchError'),
  ),
}

export const securitySchemes = {
  bearer: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'a token made by `dacc token create <org>`, carrying scopes: measure:write, aggregate:read',
  },
}
