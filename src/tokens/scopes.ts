/**
 * What a token may do: write measures, read aggregates; read SQL through the embedded engine's
 * interface (src/sql/): `sql:public` what /aggregate publishes (the public views), `sql:raw` the
 * whole DACC database, read-only (operators).
 */
export const SCOPES = ['measure:write', 'aggregate:read', 'sql:public', 'sql:raw'] as const
export type Scope = (typeof SCOPES)[number]

/** A new token's scopes unless told otherwise, and those of the original service's tokens: its API's. */
export const DEFAULT_SCOPES: readonly Scope[] = ['measure:write', 'aggregate:read']
