import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { parseDefinitionsFile } from '../../src/definitions/definitions.ts'
import { UsageError } from '../../src/errors.ts'
import { tempDir } from '../helpers/server.ts'

const test = suite('privacy options of a definition')

const parse = (definition: Record<string, unknown>) => {
  const file = path.join(tempDir(), 'definitions.json')
  fs.writeFileSync(file, JSON.stringify({ definitions: [{ name: 'm', ...definition }] }))
  return parseDefinitionsFile(file)[0]
}

test('they load as given, and are absent unless given', () => {
  const options = {
    thresholdOn: 'contributors',
    fixedPublication: true,
    hideExtremes: true,
    noise: { epsilon: 0.5, valueMin: -10, valueMax: 10 },
  }
  assert.equal(
    {
      ...parse(options),
      aggregationThreshold: undefined,
      accessApp: undefined,
      accessPublic: undefined,
      withQuartiles: undefined,
    },
    {
      name: 'm',
      ...options,
      aggregationThreshold: undefined,
      accessApp: undefined,
      accessPublic: undefined,
      withQuartiles: undefined,
    },
  )
  const plain = parse({})
  for (const key of Object.keys(options)) assert.not.ok(key in plain, key)
})

test('a bad option names the definition and the field', () => {
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ thresholdOn: 'instances' }, /definition #1 \("m"\): thresholdOn must be equal to one of the allowed values/],
    [{ hideExtremes: 'yes' }, /hideExtremes must be boolean/],
    [{ noise: { epsilon: 0, valueMin: 0, valueMax: 1 } }, /noise must be > 0/],
    [{ noise: { epsilon: 1, valueMin: 0 } }, /missing field valueMax/],
    [{ noise: { epsilon: 1, valueMin: 0, valueMax: 1, delta: 0 } }, /unknown field delta/],
    [
      { noise: { epsilon: 1, valueMin: 2, valueMax: 1 } },
      /definition #1 \("m"\): noise valueMin must not exceed valueMax$/,
    ],
  ]
  for (const [definition, message] of cases) {
    assert.throws(
      () => parse(definition),
      (err: Error) => err instanceof UsageError && message.test(err.message),
      JSON.stringify(definition),
    )
  }
})

test.run()
