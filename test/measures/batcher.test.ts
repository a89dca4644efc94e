import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Batcher, QueueFull } from '../../src/measures/batcher.ts'

const test = suite('Batcher')

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

test('concurrent rows share one write; a full batch is written at once', async () => {
  const writes: number[][] = []
  const batcher = new Batcher<number[]>({ rowsOf: (item) => item.length, maxRows: 3, maxDelayMs: 1000, maxQueuedRows: 100, write: async (items) => void writes.push(items.flat()) })
  const started = Date.now()
  await Promise.all([batcher.add([1]), batcher.add([2]), batcher.add([3])])
  assert.ok(Date.now() - started < 500)
  assert.equal(writes, [[1, 2, 3]])
})

test('a lone row is written after the delay', async () => {
  const writes: number[][] = []
  const batcher = new Batcher<number[]>({ rowsOf: (item) => item.length, maxRows: 100, maxDelayMs: 20, maxQueuedRows: 100, write: async (items) => void writes.push(items.flat()) })
  const pending = batcher.add([7])
  await sleep(5)
  assert.equal(writes, [])
  await pending
  assert.equal(writes, [[7]])
})

test('rows arriving during a write form the next batch; a failed write rejects exactly its rows', async () => {
  let calls = 0
  const written: number[][] = []
  const batcher = new Batcher<number[]>({ rowsOf: (item) => item.length,
    maxRows: 2,
    maxDelayMs: 1,
    maxQueuedRows: 100,
    write: async (items) => {
      calls += 1
      await sleep(20)
      if (calls === 1) throw new Error('boom')
      written.push(items.flat())
    },
  })
  const first = batcher.add([1, 2])
  await sleep(5)
  const second = [batcher.add([3]), batcher.add([4])]
  const results = await Promise.allSettled([first, ...second])
  assert.equal(results.map((result) => result.status), ['rejected', 'fulfilled', 'fulfilled'])
  assert.equal(written, [[3, 4]])
  assert.is(batcher.queuedRows, 0)
})

test('a full queue refuses with 503 and Retry-After; close writes what is queued', async () => {
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  const written: number[] = []
  const batcher = new Batcher<number[]>({ rowsOf: (item) => item.length, maxRows: 10, maxDelayMs: 1, maxQueuedRows: 3, write: async (items) => { await gate; written.push(...items.flat()) } })
  const accepted = [batcher.add([1, 2]), batcher.add([3])]
  const refused = batcher.add([4])
  await refused.then(
    () => assert.unreachable('should refuse'),
    (err) => {
      assert.instance(err, QueueFull)
      assert.is(err.status, 503)
      assert.equal(err.headers, { 'Retry-After': '1' })
    },
  )
  release()
  await batcher.close()
  await Promise.all(accepted)
  assert.equal(written, [1, 2, 3])
  await batcher.add([5]).then(() => assert.unreachable('closed'), (err) => assert.is(err.status, 503))
})

test.run()
