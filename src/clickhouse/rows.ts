import type { ClickHouseClient } from './client.ts'

/** The rows of a query with `{name:Type}` parameters, as objects. */
export const rows = async <T>(
  client: Pick<ClickHouseClient, 'query'>,
  query: string,
  params: Record<string, unknown>,
): Promise<T[]> => (await client.query({ query, query_params: params, format: 'JSONEachRow' })).json<T>()
