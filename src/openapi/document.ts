import { aggregateParamsSchema } from '../aggregates/schema.ts'
import type { StaticFile } from '../explorer/files.ts'
import { NDJSON } from '../http/body.ts'
import { LICENSE, VERSION } from '../root.ts'
import { ref, responses, schemas, securitySchemes } from './components.ts'
import * as examples from './examples.ts'

const use = (name: keyof typeof responses, description?: string) => ({
  $ref: `#/components/responses/${name}`,
  ...(description && { description }),
})
const named = (values: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(values).map(([name, value]) => [name, { value }]))
const json = (schema: object, values?: Record<string, unknown>) => ({
  'application/json': { schema, ...(values && { examples: named(values) }) },
})
const bearer = [{ bearer: [] }]
const noAuth: never[] = []

const created = { type: 'object', required: ['ok'], additionalProperties: false, properties: { ok: { const: true } } }
const createdBatch = {
  ...created,
  required: ['ok', 'count'],
  properties: { ...created.properties, count: { type: 'integer', minimum: 1 } },
}

const writeErrors = {
  401: use('Unauthorized'),
  403: use('Forbidden', 'the token lacks the measure:write scope'),
  413: use('PayloadTooLarge'),
  415: use('UnsupportedMediaType'),
  503: use('Unavailable'),
}

/** GET /aggregate's query parameters: one per property of the params schema the route validates with. */
function aggregateQueryParameters() {
  const required: readonly string[] = aggregateParamsSchema.required
  const properties: Record<string, { description?: string }> = aggregateParamsSchema.properties
  return Object.entries(properties).map(([name, { description, ...schema }]) => ({
    name,
    in: 'query',
    required: required.includes(name),
    description,
    schema,
    ...(name in examples.aggregateQueryExamples && { example: examples.aggregateQueryExamples[name] }),
  }))
}

function aggregateOperation(method: 'get' | 'post') {
  return {
    operationId: `${method}Aggregate`,
    summary: 'Aggregates of a measure, per bucket and group, above its threshold',
    description:
      "Parameters come from a JSON body (the original's way, also on GET) or, when the body is empty, from the query string. " +
      "Buckets with fewer measures than the definition's aggregationThreshold are never returned. " +
      'In an answer with rollups ("*" rows, which sum other rows), more rows are left out where needed so that no hidden row follows ' +
      "by subtracting shown rows of the answer. The definition's privacy options (GET /definitions) say what else applies: " +
      'thresholdOn, hideExtremes, noise, fixedPublication (docs/privacy.md).',
    security: bearer,
    ...(method === 'get' && { parameters: aggregateQueryParameters() }),
    requestBody: {
      required: method === 'post',
      content: json(ref('AggregateParams'), examples.aggregateParamsExamples),
    },
    responses: {
      200: {
        description: 'rows ordered by startDate, createdBy and group values',
        content: json({ type: 'array', items: ref('AggregateRow') }, { rows: examples.aggregateRowsExample }),
      },
      400: use('BadRequest'),
      401: use('Unauthorized'),
      403: use(
        'Forbidden',
        'the token lacks the aggregate:read scope, or the definition has neither accessApp nor accessPublic',
      ),
      413: use('PayloadTooLarge'),
      415: use('UnsupportedMediaType'),
      503: use('Unavailable'),
    },
  }
}

/**
 * The OpenAPI 3.1 description of every route of the app (test/openapi checks it against the
 * routers' registered paths). `explorerFiles` are the files GET /explorer/{file} may serve.
 */
export function openApiDocument(explorerFiles: Map<string, StaticFile>) {
  const fileTypes = [...new Set([...explorerFiles.values()].map((file) => file.type.split(';')[0]))]
  return {
    openapi: '3.1.0',
    info: {
      title: 'DACC — Data Aggregator Cross Cozy',
      version: VERSION,
      description:
        'Anonymous numeric measures in, aggregates out, only for groups with enough contributions. Errors are {"error": "..."}.',
      license: { name: LICENSE, identifier: LICENSE },
    },
    paths: {
      '/measure': {
        post: {
          operationId: 'postMeasure',
          summary: 'Store one measure (201 once it is in ClickHouse)',
          security: bearer,
          requestBody: { required: true, content: json(ref('Measure'), examples.measureExamples) },
          responses: { 201: { description: 'stored', content: json(created) }, 400: use('BadRequest'), ...writeErrors },
        },
      },
      '/measures': {
        post: {
          operationId: 'postMeasures',
          summary: 'Store a batch of measures, all or nothing',
          security: bearer,
          requestBody: {
            required: true,
            content: {
              ...json(
                { type: 'array', minItems: 1, items: ref('Measure') },
                { twoMeasures: Object.values(examples.measureExamples) },
              ),
              [NDJSON]: {
                schema: { type: 'string', description: 'one Measure per line; blank lines are ignored' },
                examples: named({ twoLines: examples.ndjsonExample }),
              },
            },
          },
          responses: {
            201: { description: 'all stored', content: json(createdBatch) },
            400: use('BatchBadRequest'),
            ...writeErrors,
          },
        },
      },
      '/aggregate': { get: aggregateOperation('get'), post: aggregateOperation('post') },
      '/definitions': {
        get: {
          operationId: 'getDefinitions',
          summary: 'The definitions whose aggregates may be read (accessApp or accessPublic), by name',
          security: bearer,
          responses: {
            200: {
              description: 'public fields only, privacy options included; absent fields omitted',
              content: json(
                { type: 'array', items: ref('PublicDefinition') },
                { definitions: examples.definitionsExample },
              ),
            },
            401: use('Unauthorized'),
            403: use('Forbidden', 'the token lacks the aggregate:read scope'),
          },
        },
      },
      '/status': {
        get: {
          operationId: 'getStatus',
          summary: 'Health of ClickHouse and SQLite',
          security: noAuth,
          responses: {
            200: {
              description: 'every dependency answers',
              content: json(ref('Status'), { ok: examples.statusExample }),
            },
            503: {
              description: 'a dependency does not answer: its status is ko, with an error',
              content: json(ref('Status')),
            },
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'getOpenApi',
          summary: 'This document',
          security: noAuth,
          responses: { 200: { description: 'OpenAPI 3.1', content: json({ type: 'object' }) } },
        },
      },
      '/': {
        get: {
          operationId: 'getExplorer',
          summary: 'The explorer: a page to chart and tabulate /aggregate answers with a read token',
          security: noAuth,
          responses: { 200: { description: 'the page', content: { 'text/html': { schema: { type: 'string' } } } } },
        },
      },
      '/explorer/{file}': {
        get: {
          operationId: 'getExplorerFile',
          summary: 'A file of the explorer page: its script, stylesheet and icon',
          security: noAuth,
          parameters: [{ name: 'file', in: 'path', required: true, schema: { enum: [...explorerFiles.keys()] } }],
          responses: {
            200: {
              description: 'the file',
              content: Object.fromEntries(fileTypes.map((type) => [type, { schema: { type: 'string' } }])),
            },
            404: use('NotFound'),
          },
        },
      },
    },
    components: { schemas, responses, securitySchemes },
  }
}
