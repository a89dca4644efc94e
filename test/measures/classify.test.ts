import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { classify, outcomeUnknown } from '../../src/measures/classify.ts'
import { sortedValues } from '../../src/aggregates/queries.ts'
import { openClickHouse } from '../../src/clickhouse/client.ts'
import { testConfig } from '../helpers/server.ts'

// Which failed loads are retried until they heal, which are set aside at once, which after a few
// attempts; and which may have committed without a word back. Real errors of the embedded engine
// where one can be had here, the shapes of the others as @clickhouse/client and Node give them.
const test = suite('load errors, classified')

test('errors ClickHouse raises for the rows or the schema are permanent', async () => {
  const clickhouse = await openClickHouse(testConfig())
  try {
    const errorOf = (query: string) =>
      clickhouse.client.command({ query }).then(
        () => undefined,
        (err) => err,
      )
    for (const query of ["SELECT toDate('x')", 'SELECT * FROM no_such_table', "SELECT throwIf(1, 'no')"]) {
      const err = await errorOf(query)
      assert.is(classify(err), 'permanent', query)
      assert.not.ok(outcomeUnknown(err), query)
    }
  } finally {
    await clickhouse.close()
  }
})

test('an engine away, overloaded or out of disk is transient', () => {
  const clickhouse = (type: string, message = '') => Object.assign(new Error(message), { code: '0', type })
  for (const type of [
    'NOT_ENOUGH_SPACE',
    'MEMORY_LIMIT_EXCEEDED',
    'TOO_MANY_PARTS',
    'TIMEOUT_EXCEEDED',
    'TOO_FEW_LIVE_REPLICAS',
  ])
    assert.is(classify(clickhouse(type)), 'transient', type)
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EIO', 'ENOSPC'])
    assert.is(classify(Object.assign(new Error(code), { code })), 'transient', code)
  assert.is(classify(new Error('Timeout error.')), 'transient')
})

test('"too many partitions" is the INSERT\'s shape, not the engine\'s load: permanent', () => {
  const err = Object.assign(new Error('Too many partitions for single INSERT block (more than 100)'), {
    code: '252',
    type: 'TOO_MANY_PARTS',
  })
  assert.is(classify(err), 'permanent')
})

test('anything else is unknown', () => {
  assert.is(classify(Object.assign(new Error('x'), { code: '1', type: 'LOGICAL_ERROR' })), 'unknown')
  assert.is(classify(new Error('what')), 'unknown')
})

test('a lost answer may have committed; a refused connection or an engine error has not', () => {
  assert.ok(outcomeUnknown(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })))
  assert.ok(outcomeUnknown(new Error('Timeout error.')))
  assert.ok(outcomeUnknown(Object.assign(new Error(''), { code: '319', type: 'UNKNOWN_STATUS_OF_INSERT' })))
  assert.not.ok(outcomeUnknown(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })))
  assert.not.ok(outcomeUnknown(Object.assign(new Error(''), { code: '243', type: 'NOT_ENOUGH_SPACE' })))
})

// Not a classification: a state the read cache decodes, cut short, is an error, never a loop past its end.
test('a truncated quantile state throws at once, without hanging the event loop', () => {
  const values = Buffer.alloc(1 + 3 * 8)
  values[0] = 3
  values.writeDoubleLE(3, 1)
  values.writeDoubleLE(1, 9)
  values.writeDoubleLE(2, 17)
  assert.equal([...sortedValues(values)], [1, 2, 3])
  for (const cut of [0, 1, 5, values.length - 1]) assert.throws(() => sortedValues(values.subarray(0, cut)))
  assert.throws(() => sortedValues(Buffer.from([0xff, 0xff, 0xff])), /ends inside its count/)
})

test.run()
