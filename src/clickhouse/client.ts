import fs from 'node:fs'
import path from 'node:path'
import { createClient, type ClickHouseClient, type ClickHouseSettings } from '@clickhouse/client'
import type { Config } from '../config.ts'

export type { ClickHouseClient }

export type ClickHouse = {
  client: ClickHouseClient
  mode: 'embedded' | 'server'
  close(): Promise<void>
}

export class ClickHouseUnavailable extends Error {}

/**
 * Settings sent with every query, so that the embedded engine and a server answer alike:
 * chdb defaults to unquoted 64-bit integers and asynchronous inserts, a server to the opposite.
 * Counts stay far below 2^53, so numbers are safe; a synchronous insert is what lets a 201 mean
 * "the measure is in ClickHouse".
 */
const settings: ClickHouseSettings = {
  output_format_json_quote_64bit_integers: 0,
  output_format_json_quote_denormals: 0,
  async_insert: 0,
  date_time_input_format: 'basic',
}

/** Opens the configured ClickHouse: a server over HTTP when `url` is set, else the embedded engine. */
export async function openClickHouse(config: Pick<Config, 'clickhouse' | 'dataDir'>): Promise<ClickHouse> {
  const { url, database } = config.clickhouse
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) {
    throw new ClickHouseUnavailable(`clickhouse.database must be a plain identifier, got: ${database}`)
  }
  return url ? openServer(config.clickhouse) : openEmbedded(path.join(config.dataDir, 'clickhouse'), database)
}

async function openEmbedded(dir: string, database: string): Promise<ClickHouse> {
  let createChdbConnection: typeof import('chdb/connection').createChdbConnection
  try {
    ;({ createChdbConnection } = await import('chdb/connection'))
  } catch {
    throw new ClickHouseUnavailable('the embedded ClickHouse (npm package chdb) is not installed: install it or set clickhouse.url')
  }
  fs.mkdirSync(dir, { recursive: true })
  let client: ClickHouseClient
  try {
    // chdb ships its own copy of @clickhouse/client-common's types: same shape, distinct declarations.
    const connection = createChdbConnection({ path: dir }) as unknown as NonNullable<Parameters<typeof createClient>[0]>['connection']
    client = createClient({ connection, clickhouse_settings: settings })
    // chdb ignores the client's `database` option; the engine is one session per process, so a
    // USE here applies to every later query of this client.
    await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${database}` })
    await client.command({ query: `USE ${database}` })
  } catch (err) {
    if ((err as { code?: string }).code === 'CHDB_CONNECTION') {
      throw new ClickHouseUnavailable(
        `the embedded ClickHouse data directory ${dir} is in use by another process (a running dacc serve?)`,
      )
    }
    throw err
  }
  return { client, mode: 'embedded', close: () => client.close() }
}

async function openServer(options: Config['clickhouse']): Promise<ClickHouse> {
  const common = {
    url: options.url,
    username: options.user,
    password: options.password,
    request_timeout: options.requestTimeoutMs,
    clickhouse_settings: settings,
  }
  const bootstrap = createClient(common)
  try {
    await bootstrap.command({ query: `CREATE DATABASE IF NOT EXISTS ${options.database}` })
  } catch (err) {
    throw new ClickHouseUnavailable(`cannot reach ClickHouse at ${safeUrl(options.url)}: ${firstLine(err)}`)
  } finally {
    await bootstrap.close()
  }
  const client = createClient({ ...common, database: options.database })
  return { client, mode: 'server', close: () => client.close() }
}

/** The URL without credentials, for messages. */
function safeUrl(url: string): string {
  try {
    const parsed = new URL(url)
    parsed.username = ''
    parsed.password = ''
    return parsed.toString()
  } catch {
    return '(invalid URL)'
  }
}

export function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]
}
