import Router from '@koa/router'
import { requireScope } from '../http/auth.ts'
import type { Tokens } from '../tokens/tokens.ts'
import type { Definitions } from './definitions.ts'
import { definitionSchema, type Definition } from './schema.ts'

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

/** GET /definitions: the definitions whose aggregates may be read (accessApp or accessPublic), by name, absent fields omitted. */
export function definitionRoutes({ definitions, tokens }: { definitions: Definitions; tokens: Tokens }): Router {
  const router = new Router()
  router.get('/definitions', requireScope(tokens, 'aggregate:read'), (ctx) => {
    ctx.body = definitions
      .list()
      .map(({ definition }) => definition)
      .filter((definition) => definition.accessApp || definition.accessPublic)
      .map((definition) => Object.fromEntries(PUBLIC_FIELDS.filter((field) => definition[field] != null).map((field) => [field, definition[field]])))
  })
  return router
}
