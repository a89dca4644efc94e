import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createDefinitions } from '../../src/definitions/definitions.ts'
import { openStore } from '../../src/store/store.ts'
import { ROOT, runCli, tempDir } from '../helpers/server.ts'

const FIXTURES = path.join(ROOT, 'test/fixtures')
const test = suite('dacc insert-definitions-json')

function definitionsIn(dataDir: string) {
  const store = openStore(dataDir)
  try {
    return createDefinitions(store)
      .list()
      .map((record) => record.definition)
  } finally {
    store.close()
  }
}

test('loads both fixture files unchanged, and upserts by name', async () => {
  const env = { DACC_DATA_DIR: tempDir() }
  const first = await runCli(['insert-definitions-json', '-f', path.join(FIXTURES, 'ecolyo-definitions.json')], env)
  assert.is(first.code, 0, first.stderr)
  assert.match(first.stdout, /New definition inserted: konnector-event-daily/)
  const example = await runCli(
    ['insert-definitions-json', '--file', path.join(FIXTURES, 'definitions-example.json')],
    env,
  )
  assert.is(example.code, 0, example.stderr)
  const again = await runCli(['insert-definitions-json', '-f', path.join(FIXTURES, 'ecolyo-definitions.json')], env)
  assert.match(again.stdout, /Definition updated: konnector-event-daily/)
  const stored = definitionsIn(env.DACC_DATA_DIR)
  assert.is(stored.length, 16)
  const konnector = stored.find((definition) => definition.name === 'konnector-event-daily')!
  assert.equal(
    {
      group1Key: konnector.group1Key,
      group3Key: konnector.group3Key,
      aggregationThreshold: konnector.aggregationThreshold,
      accessApp: konnector.accessApp,
      withQuartiles: konnector.withQuartiles,
    },
    { group1Key: 'slug', group3Key: 'status', aggregationThreshold: 5, accessApp: false, withQuartiles: false },
  )
})

test('an invalid file changes nothing and names the entry and field', async () => {
  const env = { DACC_DATA_DIR: tempDir() }
  await runCli(['insert-definitions-json', '-f', path.join(FIXTURES, 'definitions-example.json')], env)
  const before = definitionsIn(env.DACC_DATA_DIR)
  const file = path.join(tempDir(), 'bad.json')
  const cases: [unknown, RegExp][] = [
    [
      {
        definitions: [
          { name: 'average-operation-amount', aggregationThreshold: 1 },
          { name: 'b', aggregationThreshold: 'five' },
        ],
      },
      /definition #2 \("b"\): aggregationThreshold must be integer/,
    ],
    [{ definitions: [{ name: 'ok' }, { org: 'x' }] }, /definition #2: missing field name/],
    [{ definitions: [{ name: 'x', group1Key: 'a', colour: 'red' }] }, /definition #1 \("x"\): unknown field colour/],
    [
      { definitions: [{ name: 'x', aggregationPeriod: 'hour' }] },
      /definition #1 \("x"\): aggregationPeriod must be equal to one of the allowed values/,
    ],
    [{ definitions: [{ name: 'x' }, { name: 'x' }] }, /name is used twice/],
    [{ defs: [] }, /invalid definitions file/],
    ['{not json', /cannot read definitions file/],
  ]
  for (const [content, message] of cases) {
    fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content))
    const { code, stdout, stderr } = await runCli(['insert-definitions-json', '-f', file], env)
    assert.is(code, 1)
    assert.is(stdout, '')
    assert.match(stderr, message)
    assert.is(stderr.trim().split('\n').length, 1)
  }
  assert.equal(definitionsIn(env.DACC_DATA_DIR), before)
  const missing = await runCli(['insert-definitions-json', '-f', '/nonexistent.json'], env)
  assert.is(missing.code, 1)
  assert.match(missing.stderr, /cannot read definitions file \/nonexistent.json/)
})

test.run()
