import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Pool } from '../../src/sql/pool.ts'

const test = suite("Pool: the SQL interface's concurrency bound")

test('lends each item to one borrower; the others wait in order of arrival, or give up after the wait', async () => {
  const pool = new Pool(['a', 'b'], 50)
  const first = await pool.acquire()
  const second = await pool.acquire()
  assert.equal([first?.item, second?.item].sort(), ['a', 'b'])
  const order: string[] = []
  const noted =
    (name: string) =>
    <T>(lent: T) => {
      order.push(name)
      return lent
    }
  const third = pool.acquire().then(noted('third'))
  const fourth = pool.acquire().then(noted('fourth'))
  first!.release()
  first!.release() // twice changes nothing
  assert.is((await third)?.item, first!.item)
  assert.is(await fourth, undefined, 'gave up after 50 ms')
  assert.equal(order, ['third', 'fourth'])
  second!.release()
  assert.ok(await pool.acquire(), 'a released item is lent again')
})

test('drain: nothing more is lent, and it resolves once every item is back', async () => {
  const pool = new Pool([1], 1000)
  const lent = await pool.acquire()
  const waiting = pool.acquire()
  let drained = false
  const done = pool.drain().then(() => (drained = true))
  assert.is(await waiting, undefined, 'the waiting borrower is told at once')
  assert.is(await pool.acquire(), undefined)
  await new Promise((resolve) => setTimeout(resolve, 10))
  assert.not.ok(drained)
  lent!.release()
  await done
  assert.ok(drained)
})

test.run()
