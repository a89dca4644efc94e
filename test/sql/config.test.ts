import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ConfigError, loadConfig } from '../../src/config.ts'

const test = suite('SQL interface: configuration')

const load = (overrides: Record<string, unknown>, env: Record<string, string> = {}) =>
  loadConfig({ env, file: undefined, overrides })

function refused(overrides: Record<string, unknown>, env: Record<string, string> = {}): string {
  try {
    load(overrides, env)
  } catch (err) {
    assert.instance(err, ConfigError)
    return (err as Error).message
  }
  assert.unreachable('accepted')
  return ''
}

test('off by default, on 127.0.0.1 when on, one query at a time, with limits', () => {
  const { sql } = load({})
  assert.equal(sql, {
    host: '127.0.0.1',
    port: 0,
    maxConcurrentQueries: 1,
    maxExecutionSeconds: 60,
    maxResultRows: 100_000_000,
    maxResultMb: 10_240,
    maxMemoryMb: 1024,
    maxThreads: 1,
  })
  assert.is(load({}, { DACC_SQL_PORT: '8123' }).sql.port, 8123)
})

test('refused in one line: with a ClickHouse server, on a port taken by another listener, more queries than threads', () => {
  assert.is(
    refused({ sql: { port: 8123 }, clickhouse: { url: 'http://localhost:8124' } }),
    'invalid configuration: sql.port: the SQL interface serves the embedded engine; with clickhouse.url set, data engineers connect to ClickHouse itself (README: For data engineers)',
  )
  assert.is(refused({ sql: { port: 5000 } }), 'invalid configuration: sql.port: must differ from port and metrics.port')
  assert.match(
    refused({ sql: { port: 8123, maxConcurrentQueries: 3 } }),
    /^invalid configuration: sql\.maxConcurrentQueries: at most 2 with UV_THREADPOOL_SIZE=4/,
  )
  assert.is(
    load({ sql: { port: 8123, maxConcurrentQueries: 6 } }, { UV_THREADPOOL_SIZE: '8' }).sql.maxConcurrentQueries,
    6,
  )
  assert.match(refused({ sql: { maxThreads: 0 } }), /^invalid configuration: sql\.maxThreads: must be a whole number/)
})

test.run()
