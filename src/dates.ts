// YYYY-MM-DD, optionally followed by a time (T or space), optional seconds and fraction, and an
// optional offset. The offset is ignored: startDate is a wall-clock bucket, as in the original.
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?(?:Z|[+-](\d{2})(?::?(\d{2}))?)?)?$/

export const DAY_MS = 86_400_000

// Producers send the same few dates over and over (a day's bucket): parsed once, remembered.
const parsed = new Map<string, string | null>()
const REMEMBERED = 10_000

/**
 * Parses an API date into ClickHouse's `YYYY-MM-DD hh:mm:ss` (to the second), or null when it is
 * not a real date in the range a ClickHouse DateTime holds (1970 to 2105).
 */
export function parseDate(value: string): string | null {
  let result = parsed.get(value)
  if (result === undefined) {
    result = parse(value)
    if (parsed.size >= REMEMBERED) parsed.clear()
    parsed.set(value, result)
  }
  return result
}

const EARLIEST = '1970-01-01 00:00:00'
const LATEST = '2106-01-01 00:00:00'

/**
 * A date bounding a range to read (/aggregate's startDate and endDate): any real date, brought
 * within what ClickHouse can hold, so that `endDate=2200-01-01` means "to the end".
 */
export function parseRangeDate(value: string): string | null {
  const date = calendarDate(value)
  if (!date) return null
  return date < EARLIEST ? EARLIEST : date > LATEST ? LATEST : date
}

function parse(value: string): string | null {
  const date = calendarDate(value)
  return date && date >= EARLIEST && date < LATEST ? date : null
}

/** `YYYY-MM-DD hh:mm:ss` of a real calendar date and time (years 0000 to 9999), else null. */
function calendarDate(value: string): string | null {
  const match = ISO.exec(value)
  if (!match) return null
  const [year, month, day, hour, minute, second, offsetHours, offsetMinutes] = match
    .slice(1, 9)
    .map((part) => (part === undefined ? 0 : Number(part)))
  if (hour > 23 || minute > 59 || second > 59) return null
  // An offset is ignored, but must be one ISO 8601 allows: from -14:00 to +14:00.
  if (offsetMinutes > 59 || offsetHours * 60 + offsetMinutes > 14 * 60) return null
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second))
  date.setUTCFullYear(year) // Date.UTC maps years 0 to 99 to 1900 to 1999
  if (date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null
  return date.toISOString().slice(0, 19).replace('T', ' ')
}
