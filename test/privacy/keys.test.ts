import crypto from 'node:crypto'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createPrivacyKeys } from '../../src/privacy/keys.ts'
import { discreteLaplace } from '../../src/privacy/laplace.ts'
import { storedSecret } from '../../src/store/settings.ts'
import { openStore } from '../../src/store/store.ts'
import { tempDir } from '../helpers/server.ts'

const test = suite('privacy keys')

test('contributor ids: keyed, stable, 64-bit, 0 only for no contributor', () => {
  const keys = createPrivacyKeys('a'.repeat(32))
  const id = keys.contributorId('instance-1')
  assert.match(id, /^[1-9]\d*$/)
  assert.ok(BigInt(id) < 2n ** 64n)
  assert.is(keys.contributorId('instance-1'), id)
  assert.is.not(keys.contributorId('instance-2'), id)
  assert.is.not(createPrivacyKeys('b'.repeat(32)).contributorId('instance-1'), id, 'another secret, another id')
  assert.is(keys.contributorId(''), '0')
  // Not a bare hash of the pseudonym: without the secret, guessing pseudonyms does not find them.
  assert.is.not(id, String(crypto.createHash('sha256').update('instance-1').digest().readBigUInt64BE(0)))
})

test('noise bytes are per cell and per secret, and stable', () => {
  const keys = createPrivacyKeys('a'.repeat(32))
  assert.equal(keys.noiseBytes('cell'), keys.noiseBytes('cell'))
  assert.not.equal(keys.noiseBytes('cell'), keys.noiseBytes('other cell'))
  assert.not.equal(createPrivacyKeys('b'.repeat(32)).noiseBytes('cell'), keys.noiseBytes('cell'))
  assert.not.equal(keys.noiseBytes('contributor'), keys.noiseBytes('noise'))
})

test('discrete Laplace: integers, centred, with the variance of its scale', () => {
  for (const scale of [0.5, 3, 40]) {
    const draws = Array.from({ length: 40_000 }, () => discreteLaplace(crypto.randomBytes(16), scale))
    assert.ok(draws.every(Number.isInteger))
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length
    const variance = draws.reduce((a, b) => a + (b - mean) ** 2, 0) / draws.length
    const p = Math.exp(-1 / scale)
    const expected = (2 * p) / (1 - p) ** 2
    assert.ok(Math.abs(mean) < 5 * Math.sqrt(expected / draws.length) + 0.01, `scale ${scale}: mean ${mean}`)
    assert.ok(Math.abs(variance / expected - 1) < 0.1, `scale ${scale}: variance ${variance}, expected ${expected}`)
  }
  assert.is(discreteLaplace(Buffer.alloc(16, 0xff), 1e-9), 0, 'a vanishing scale adds nothing')
})

test('a generated secret is kept in the store and found again by the next process', () => {
  const dir = tempDir()
  const first = openStore(dir)
  const secret = storedSecret(first, 'privacy_secret')
  assert.ok(secret.length >= 32)
  assert.is.not(storedSecret(first, 'signing_key'), secret, 'one secret per purpose')
  first.close()
  const second = openStore(dir)
  assert.is(storedSecret(second, 'privacy_secret'), secret)
  second.close()
})

test.run()
