import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { openClickHouse } from '../../src/clickhouse/client.ts'
import { ConfigError } from '../../src/config.ts'
import { createLogger } from '../../src/logger.ts'
import { runLocally } from '../../src/ops/operations.ts'
import { serveOperations, socketPath } from '../../src/ops/socket.ts'
import { ROOT, runCli, serveProcess, tempDir, testConfig, type CliResult } from '../helpers/server.ts'

const test = suite('the CLI beside dacc serve')
const DEFINITIONS = path.join(ROOT, 'test/fixtures/ecolyo-definitions.json')

/** Runs a command that must succeed quietly: exit 0, nothing on stderr (no lock error, no stack). */
async function ok(env: Record<string, string>, ...args: string[]): Promise<string> {
  const result: CliResult = await runCli(args, env)
  assert.is(result.stderr, '', `${args.join(' ')}: ${result.stderr}`)
  assert.is(result.code, 0, args.join(' '))
  return result.stdout
}

/** Every command, the ClickHouse ones included, on one data directory. */
async function everyCommand(env: Record<string, string>): Promise<void> {
  assert.match(await ok(env, 'migrate'), /SQLite schema is up to date/)
  assert.match(await ok(env, 'insert-definitions-json', '-f', DEFINITIONS), /Done\./)
  assert.match(await ok(env, 'token', 'create', 'acme'), /^Token created for acme: /)
  assert.match(
    await ok(env, 'compute-wildcard-aggregate', 'konnector-event-daily', 'group1,group2'),
    /^Wildcard set registered/,
  )
  assert.match(await ok(env, 'wildcard', 'list'), /konnector-event-daily +group1,group2/)
  assert.match(await ok(env, 'purge', 'measure', 'profile-count', '-d', '30'), /^Purged profile-count: 0 raw measures/)
  assert.match(await ok(env, 'purge', 'all-measures'), /Purged session-duration: 0 raw measures/)
  assert.match(await ok(env, 'definitions', 'list'), /\nprofile-count +grandlyon +- +5 +- +0 +\d{4}-/)
  assert.match(await ok(env, 'definitions', 'delete', 'quiz-stars'), /^Definition deleted: quiz-stars/)
  assert.match(
    await ok(env, 'definitions', 'delete', 'konnector-event-daily', '--purge-data'),
    /1 wildcard set removed; 0 raw measures/,
  )
  assert.match(await ok(env, 'sql', 'SELECT count() AS n FROM raw_measures'), /^n\n-\n0\n\(1 row\)\n$/)
}

test('with dacc serve running, every command works; ClickHouse work goes through its 0600 socket, removed on exit', async () => {
  const dataDir = tempDir()
  const server = serveProcess(dataDir)
  await server.url
  try {
    assert.is(fs.statSync(socketPath(dataDir)).mode & 0o777, 0o600)
    await everyCommand({ DACC_DATA_DIR: dataDir })
    const served = [...server.output().matchAll(/"operation":"(\w+)","ms":\d+,"msg":"operation run for the CLI"/g)].map(
      (match) => match[1],
    )
    assert.equal(new Set(served), new Set(['migrate', 'mirrorDefinitions', 'purge', 'rawCounts', 'deleteData', 'sql']))
  } finally {
    server.child.kill('SIGTERM')
  }
  assert.is(await server.exited, 0)
  assert.not.ok(fs.existsSync(socketPath(dataDir)))
})

test('with no server, every command opens the store itself', async () => {
  await everyCommand({ DACC_DATA_DIR: tempDir() })
})

test('a socket left by a killed server: connection refused, the CLI opens the store itself; the next serve replaces it', async () => {
  const dataDir = tempDir()
  const killed = serveProcess(dataDir)
  await killed.url
  killed.child.kill('SIGKILL')
  await killed.exited
  assert.ok(fs.existsSync(socketPath(dataDir)), 'the stale socket is left')
  const env = { DACC_DATA_DIR: dataDir }
  assert.match(await ok(env, 'sql', 'SELECT 1 AS one'), /^one\n---\n {2}1\n/)

  const server = serveProcess(dataDir)
  await server.url
  try {
    assert.match(await ok(env, 'migrate'), /ClickHouse schema is up to date/)
    assert.match(server.output(), /"operation":"migrate"/)
  } finally {
    server.child.kill('SIGTERM')
    await server.exited
  }
})

test('a process holding the data directory without the socket: the CLI says so in one line of its own', async () => {
  const config = testConfig()
  const holder = await openClickHouse(config)
  try {
    const { code, stderr } = await runCli(['sql', 'SELECT 1'], { DACC_DATA_DIR: config.dataDir })
    assert.is(code, 1)
    // The embedded engine itself also writes its lock error to stderr, before ours.
    assert.match(
      stderr.trimEnd().split('\n').at(-1)!,
      /^Error: the embedded ClickHouse data directory .* is in use by another process \(a running dacc serve\?\)$/,
    )
  } finally {
    await holder.close()
  }
})

test('a data directory too long for a socket path is refused at start, in one line', async () => {
  const file = socketPath(path.join(tempDir(), 'd'.repeat(120)))
  const run = runLocally({ client: undefined as never, mode: 'embedded', cluster: '', journalDir: '' })
  const refused = await serveOperations(file, run, createLogger('silent')).then(
    () => undefined,
    (err: Error) => err,
  )
  assert.instance(refused, ConfigError)
  assert.match(
    refused!.message,
    /^dataDir is too long for the CLI socket .* \(at most 103 bytes\): choose a shorter one$/,
  )
})

test.run()
