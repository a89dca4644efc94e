import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { IdempotencyKeys } from '../../src/measures/keys.ts'
import { tempDir } from '../helpers/server.ts'

// The idempotency index, with the clock driven by the test: a key is known for its window, a key
// used again after it is a new request (its time moves on, it is known again), the index forgets
// what is past the window, and its size stays flat however many windows go by.
const test = suite('the idempotency index')

const WINDOW_S = 100
const WINDOW_MS = WINDOW_S * 1000

test('a key is known within its window, and not after', () => {
  const keys = IdempotencyKeys.open(tempDir(), WINDOW_S)
  try {
    keys.add([['k', 1_000_000]])
    assert.ok(keys.has('k', 1_000_000 + WINDOW_MS - 1))
    assert.not.ok(keys.has('k', 1_000_000 + WINDOW_MS + 1))
  } finally {
    keys.close()
  }
})

test('a key used again after its window is refreshed, not ignored', () => {
  const keys = IdempotencyKeys.open(tempDir(), WINDOW_S)
  try {
    keys.add([['k', 1_000_000]])
    const later = 1_000_000 + 2 * WINDOW_MS
    assert.not.ok(keys.has('k', later))
    keys.add([['k', later]])
    assert.ok(keys.has('k', later + WINDOW_MS - 1), 'known for the new window')
    // Recovered from the journal at start with its old time: the newer one stays.
    keys.add([['k', 1_000_000]])
    assert.ok(keys.has('k', later + WINDOW_MS - 1))
  } finally {
    keys.close()
  }
})

test('pruned each window, the index stays the size of one window', () => {
  const dir = tempDir()
  const keys = IdempotencyKeys.open(dir, WINDOW_S)
  const PER_WINDOW = 1000
  const sizes: number[] = []
  try {
    for (let window = 0; window < 20; window++) {
      const start = window * WINDOW_MS
      keys.add(Array.from({ length: PER_WINDOW }, (_, i) => [`w${window}-${i}`, start + i] as [string, number]))
      keys.prune(start + WINDOW_MS)
      sizes.push(keys.size)
    }
    assert.ok(Math.max(...sizes) <= PER_WINDOW, `sizes: ${sizes.join(', ')}`)
    assert.ok(keys.has(`w19-${PER_WINDOW - 1}`, 19 * WINDOW_MS + WINDOW_MS / 2))
    assert.not.ok(keys.has('w0-0', 19 * WINDOW_MS))
  } finally {
    keys.close()
  }
})

test('synced keys are in the database file itself, not only in its write-ahead log', () => {
  const dir = tempDir()
  const keys = IdempotencyKeys.open(dir, WINDOW_S)
  keys.add([['k', Date.now()]])
  keys.sync()
  keys.close()
  const reopened = IdempotencyKeys.open(dir, WINDOW_S)
  try {
    assert.ok(reopened.has('k'))
  } finally {
    reopened.close()
  }
})

test('one process per journal: a second one is refused in one line', () => {
  const dir = tempDir()
  const keys = IdempotencyKeys.open(dir, WINDOW_S)
  try {
    assert.throws(() => IdempotencyKeys.open(dir, WINDOW_S), /is in use by another process/)
  } finally {
    keys.close()
  }
})

test.run()
