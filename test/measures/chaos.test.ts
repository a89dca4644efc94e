import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { runChaos } from '../chaos.ts'

// A short run of the crash loop (test/chaos.ts; `npm run chaos` runs it longer).
const test = suite('the crash loop')

test('SIGKILL at random instants under keyed batches and unkeyed load, torn appends: every key counted once, nothing acknowledged lost', async () => {
  const result = await runChaos({ rounds: 4, seconds: 1.5, producers: 6, seed: 20261207 })
  assert.equal(result.failures, [])
  assert.is(result.kills, 4)
  assert.ok(result.keys > 100, `${result.keys} keys sent`)
  assert.ok(result.keyedMeasures > result.keys, 'keyed batches among them')
  assert.ok(result.torn > 0, 'torn appends among the kills')
  assert.ok(result.unkeyed.acknowledged > 0)
})

test.run()
