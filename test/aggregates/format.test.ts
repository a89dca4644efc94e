import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { roundQuartile } from '../../src/aggregates/format.ts'

const test = suite('quartiles to 2 places')

test("as the original stored them: Decimal('%.2f' % value) of percentile_cont's float (printed by Python)", () => {
  // value, Python's '%.2f' % value
  const cases: [number, number][] = [
    [0.125, 0.12],
    [0.375, 0.38],
    [0.625, 0.62],
    [0.875, 0.88],
    [-0.125, -0.12],
    [7.125, 7.12],
    [100.125, 100.12],
    [2.5, 2.5],
    [1.005, 1],
    [1.0050000000000001, 1.01],
    [2.675, 2.67],
    [-2.675, -2.67],
    [1.015, 1.01],
    [0.285, 0.28],
    [0.045, 0.04],
    [12.345, 12.35],
    [1234.5625, 1234.56],
    [1e15 + 0.5, 1e15 + 0.5],
  ]
  for (const [value, stored] of cases) assert.is(roundQuartile(value), stored, String(value))
  assert.is(roundQuartile(null), null)
})

test('elsewhere the nearest hundredth, as toFixed(2) finds it from the exact binary value', () => {
  let random = 12345
  for (let i = 0; i < 100_000; i++) {
    random = (random * 1103515245 + 12345) % 2 ** 31
    const value = (random / 2 ** 31 - 0.5) * 10 ** ((i % 7) - 1)
    if (Number.isInteger(value * 8)) continue
    assert.is(roundQuartile(value), Number(value.toFixed(2)), String(value))
  }
})

test.run()
