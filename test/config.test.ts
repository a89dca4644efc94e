import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { parse } from 'yaml'
import { ConfigError, configKeys, loadConfig } from '../src/config.ts'
import { ROOT, tempDir } from './helpers/server.ts'

const test = suite('config')

const flatten = (node: Record<string, unknown>, prefix = ''): string[] =>
  Object.entries(node).flatMap(([key, value]) =>
    value !== null && typeof value === 'object'
      ? flatten(value as Record<string, unknown>, `${prefix}${key}.`)
      : [prefix + key],
  )

test('config-template.yml lists exactly the schema keys, with their defaults and environment names', () => {
  const text = fs.readFileSync(path.join(ROOT, 'config-template.yml'), 'utf8')
  assert.equal(flatten(parse(text)).sort(), configKeys().sort())
  const defaults = loadConfig({ env: {} })
  const fromTemplate = loadConfig({ env: {}, file: path.join(ROOT, 'config-template.yml') })
  assert.equal(fromTemplate, defaults)
  for (const name of [
    'DACC_DATA_DIR',
    'DACC_HOST',
    'DACC_PORT',
    'DACC_CLICKHOUSE_URL',
    'DACC_CLICKHOUSE_USER',
    'DACC_CLICKHOUSE_PASSWORD',
    'DACC_CLICKHOUSE_DATABASE',
    'DACC_LOG_LEVEL',
  ]) {
    assert.ok(text.includes(name), name)
  }
})

test('defaults: embedded ClickHouse and SQLite under ./data, 127.0.0.1:5000', () => {
  const config = loadConfig({ env: {} })
  assert.is(config.dataDir, path.resolve('data'))
  assert.is(config.host, '127.0.0.1')
  assert.is(config.port, 5000)
  assert.is(config.clickhouse.url, '')
})

test('environment variables override the file; DACC_CONFIG picks the file', () => {
  const file = path.join(tempDir(), 'config.yml')
  fs.writeFileSync(file, 'port: 6000\nhost: 0.0.0.0\nclickhouse:\n  database: fromfile\n')
  const config = loadConfig({
    env: { DACC_CONFIG: file, DACC_PORT: '7000', DACC_LOG_LEVEL: 'warn', DACC_CLICKHOUSE_PASSWORD: 'pw' },
  })
  assert.is(config.port, 7000)
  assert.is(config.host, '0.0.0.0')
  assert.is(config.clickhouse.database, 'fromfile')
  assert.is(config.clickhouse.password, 'pw')
  assert.is(config.log.level, 'warn')
})

test('a bad config fails with one line naming the key', () => {
  const file = path.join(tempDir(), 'config.yml')
  const cases: [string | Record<string, string>, RegExp][] = [
    [{ DACC_PORT: '99999' }, /port/],
    [{ DACC_LOG_LEVEL: 'loud' }, /log\.level/],
    [{ DACC_BODY_LIMIT: 'lots' }, /bodyLimit/],
    ['colour: red\n', /colour/],
    ['auth:\n  signingKey: short\n', /auth\.signingKey/],
    ['port: [1\n', /cannot read config file/],
  ]
  for (const [input, key] of cases) {
    if (typeof input === 'string') fs.writeFileSync(file, input)
    const env = typeof input === 'string' ? { DACC_CONFIG: file } : input
    assert.throws(
      () => loadConfig({ env }),
      (err: Error) => err instanceof ConfigError && key.test(err.message) && !err.message.includes('\n'),
    )
  }
  assert.throws(() => loadConfig({ env: { DACC_CONFIG: '/nonexistent.yml' } }), /config file not found/)
})

test.run()
