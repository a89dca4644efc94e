import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { frame, scanFrames } from '../../src/measures/frames.ts'
import { journalLine, parseJournalLine } from '../../src/measures/rows.ts'
import type { StoredMeasure } from '../../src/measures/schema.ts'

// A segment file is a run of frames; recovery keeps the whole ones. Cut anywhere inside the last
// one (as a crash mid-write leaves it), or with any of its bytes changed (as a power cut can leave
// its unsynced pages), it is dropped and only it; a damaged frame followed by a whole one is not a
// torn append but a damaged file, said so.
const test = suite('journal frames')

const measure = (value: number, text = 'x'): StoredMeasure => ({
  measureName: 'm',
  startDate: '2022-01-01 00:00:00',
  createdBy: text,
  group1: `g\t${text}\n`,
  group2: '',
  group3: '',
  value,
  withQuartiles: value % 2 === 0,
  contributor: value % 3 === 0 ? '123456789' : '',
})
const framed = (from: number, count: number, key = '') => {
  const lines = Array.from({ length: count }, (_, i) => journalLine(measure(from + i), '2022-01-01 00:00:00.123', key))
  return frame(lines.join(''), count)
}
const file = (...frames: Buffer[]) => Buffer.concat(frames)

test('rows read back as they were written, escapes and all', () => {
  const original = measure(6, 'a\\b\rc\0')
  const parsed = parseJournalLine(journalLine(original, '2022-01-01 00:00:00.123', 'k').slice(0, -1))
  assert.equal(parsed, { measure: original, receivedAt: '2022-01-01 00:00:00.123', key: 'k' })
})

test('whole frames are kept, in order, with their rows counted', () => {
  const bytes = file(framed(0, 3), framed(3, 1, 'key'), framed(4, 5))
  const scan = scanFrames(bytes)
  assert.equal(
    scan.frames.map((frame) => frame.rows),
    [3, 1, 5],
  )
  assert.is(scan.end, bytes.length)
  assert.is(scan.damage, undefined)
})

test('cut at every byte of the last frame: only the whole frames before it are kept', () => {
  const before = file(framed(0, 2), framed(2, 3, 'k1'))
  const last = framed(5, 4, 'k2')
  for (let cut = 0; cut < last.length; cut++) {
    const scan = scanFrames(file(before, last.subarray(0, cut)))
    assert.is(scan.frames.length, 2, `cut at ${cut}`)
    assert.is(scan.end, before.length, `cut at ${cut}`)
    assert.is(scan.damage, undefined, `cut at ${cut}`)
  }
})

test('any byte of the last frame changed (or zeroed): that frame is dropped, the earlier kept', () => {
  const before = framed(0, 2)
  const last = framed(2, 3, 'k')
  for (let at = 0; at < last.length; at++) {
    for (const value of [0x00, last[at] ^ 0x01]) {
      const changed = Buffer.from(last)
      changed[at] = value
      if (changed.equals(last)) continue
      const scan = scanFrames(file(before, changed))
      assert.ok(scan.end === before.length || scan.frames.length === 1, `byte ${at} set to ${value}`)
      assert.is(scan.frames.length, 1, `byte ${at} set to ${value}`)
    }
  }
})

test('a damaged frame before a whole one: the file is damaged, the frames before it kept', () => {
  const damaged = framed(2, 3)
  damaged[5] ^= 0x01
  const scan = scanFrames(file(framed(0, 2), damaged, framed(5, 1)))
  assert.is(scan.frames.length, 1)
  assert.match(scan.damage ?? '', /^the frame at byte \d+ fails its checksum$/)
})

test('an empty file holds no frame', () => {
  assert.equal(scanFrames(Buffer.alloc(0)), { frames: [], end: 0 })
})

test.run()
