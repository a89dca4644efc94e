import zlib from 'node:zlib'

/**
 * The framing of journal appends, after LevelDB's log format: each append (the rows of a group of
 * requests) ends with a marker line carrying the number of its rows, their length in bytes and
 * their CRC-32. Recovery keeps whole frames only: an append cut short by a crash (a prefix of its
 * pages on disk after a SIGKILL mid-write, any subset of them after a power cut) fails its marker
 * and is cut off, so a request is all or nothing whatever instant a crash hit, and the idempotency
 * keys of a torn append are never registered.
 *
 * The marker is itself a TabSeparated row of the segment's structure, with an empty measure_name
 * (no definition has one): ClickHouse reads a segment file as it is and the load's
 * `WHERE measure_name != ''` leaves the markers out (src/measures/queries.ts).
 */

const MAGIC = '#dacc-frame'
const VERSION = 1
const MARKER_PREFIX = `\t1970-01-01 00:00:00\t\t\t\t\t0\tfalse\t0\t1970-01-01 00:00:00.000\t${MAGIC} ${VERSION} `
const TAB = 0x09
const NEWLINE = 0x0a

/** The bytes of one append: `rows` (whole lines) and their marker. */
export function frame(rows: string, count: number): Buffer {
  const data = Buffer.from(rows)
  const marker = `${MARKER_PREFIX}${count} ${data.length} ${zlib.crc32(data).toString(16)}\n`
  return Buffer.concat([data, Buffer.from(marker)])
}

/** A whole frame of a segment file: its bytes are [start, end), its rows' lines [start, rowsEnd). */
export type Frame = { start: number; rowsEnd: number; end: number; rows: number }

export type Scan = {
  /** The whole frames from the start of the file, in order. */
  frames: Frame[]
  /** Where the whole frames end: the file is cut back here (what follows was never acknowledged). */
  end: number
  /** Set when a frame fails its check and a whole frame follows it: not a torn append, a damaged file. */
  damage?: string
}

/** The whole frames of a segment file's bytes, and where the last one ends. */
export function scanFrames(bytes: Buffer): Scan {
  const frames: Frame[] = []
  let start = 0
  let rows = 0
  let failure: string | undefined
  for (let line = 0; line < bytes.length; ) {
    const newline = bytes.indexOf(NEWLINE, line)
    if (newline === -1) break // a line cut short: the torn end of the last append
    if (bytes[line] === TAB) {
      const problem = checkMarker(bytes, start, line, newline, rows)
      if (problem === undefined && failure === undefined) frames.push({ start, rowsEnd: line, end: newline + 1, rows })
      else if (problem === undefined) return { frames, end: frames.at(-1)?.end ?? 0, damage: failure }
      else failure ??= `the frame at byte ${start} ${problem}`
      start = newline + 1
      rows = 0
    } else {
      rows++
    }
    line = newline + 1
  }
  return { frames, end: frames.at(-1)?.end ?? 0 }
}

/** Why the marker line [line, newline) does not close the frame [start, line) of `rows` rows; undefined when it does. */
function checkMarker(bytes: Buffer, start: number, line: number, newline: number, rows: number): string | undefined {
  const text = bytes.toString('latin1', line, newline)
  if (!text.startsWith(MARKER_PREFIX)) return 'ends with an unknown marker'
  const [count, length, crc] = text.slice(MARKER_PREFIX.length).split(' ')
  if (Number(count) !== rows || Number(length) !== line - start) return 'does not hold the rows its marker counts'
  if (zlib.crc32(bytes.subarray(start, line)).toString(16) !== crc) return 'fails its checksum'
  return undefined
}
