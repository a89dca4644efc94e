import type { StoredMeasure } from './schema.ts'

/**
 * A journal row: one raw_measures row as a TabSeparated line, its columns in COLUMNS' order. The
 * loader hands ClickHouse this structure explicitly, rather than letting the engine
 * infer it or borrow it from the table (`use_structure_from_insertion_table_in_table_functions`),
 * so that a change of the table can never change how a segment written before it is read.
 * (src/measures/queries.ts renders it.)
 */
export const COLUMNS = [
  ['measure_name', 'LowCardinality(String)'],
  ['start_date', "DateTime('UTC')"],
  ['created_by', 'LowCardinality(String)'],
  ['group1', 'String'],
  ['group2', 'String'],
  ['group3', 'String'],
  ['value', 'Float64'],
  ['with_quartiles', 'Bool'],
  ['contributor', 'UInt64'],
  ['received_at', "DateTime64(3, 'UTC')"],
  ['idempotency_key', 'String'],
] as const

// TabSeparated escapes: a value never holds a raw tab or line break, so a row is one line.
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' }
const SPECIAL = /[\\\t\n\r\0]/
const escaped = (text: string) => (SPECIAL.test(text) ? text.replace(/[\\\t\n\r\0]/g, (char) => ESCAPES[char]) : text)
const UNESCAPES: Record<string, string> = { '\\': '\\', t: '\t', n: '\n', r: '\r', '0': '\0' }
const unescaped = (text: string) =>
  text.includes('\\') ? text.replace(/\\(.)/g, (_, char: string) => UNESCAPES[char] ?? char) : text

/** One journal row (a line): `receivedAt` is `YYYY-MM-DD hh:mm:ss.sss`, `key` '' for none. */
export function journalLine(measure: StoredMeasure, receivedAt: string, key: string): string {
  return `${escaped(measure.measureName)}\t${measure.startDate}\t${escaped(measure.createdBy)}\t${escaped(measure.group1)}\t${escaped(measure.group2)}\t${escaped(measure.group3)}\t${measure.value}\t${measure.withQuartiles}\t${measure.contributor || 0}\t${receivedAt}\t${key}\n`
}

/** A journal row read back: the measure as stored, when it was acknowledged and its request's key. */
export type JournalRow = { measure: StoredMeasure; receivedAt: string; key: string }

/** The inverse of journalLine, for a line without its line break. */
export function parseJournalLine(line: string): JournalRow {
  const fields = line.split('\t')
  if (fields.length !== COLUMNS.length)
    throw new Error(`a journal row has ${fields.length} fields, not ${COLUMNS.length}`)
  const [
    measureName,
    startDate,
    createdBy,
    group1,
    group2,
    group3,
    value,
    withQuartiles,
    contributor,
    receivedAt,
    key,
  ] = fields
  return {
    measure: {
      measureName: unescaped(measureName),
      startDate,
      createdBy: unescaped(createdBy),
      group1: unescaped(group1),
      group2: unescaped(group2),
      group3: unescaped(group3),
      value: Number(value),
      withQuartiles: withQuartiles === 'true',
      contributor: contributor === '0' ? '' : contributor,
    },
    receivedAt,
    key,
  }
}

/** `YYYY-MM-DD hh:mm:ss.sss` (UTC) of an instant in ms: the journal's received_at. */
export const receivedAtOf = (ms: number) => new Date(ms).toISOString().slice(0, 23).replace('T', ' ')
