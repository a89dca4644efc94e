/** What a token may do: write measures, read aggregates (both by default). */
export const SCOPES = ['measure:write', 'aggregate:read'] as const
export type Scope = (typeof SCOPES)[number]
