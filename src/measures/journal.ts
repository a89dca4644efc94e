import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { StoredMeasure } from './schema.ts'

/** One file of the journal: raw_measures rows as TabSeparated text, loaded into ClickHouse by one INSERT. */
export type Segment = { name: string; path: string; rows: number }

/** A segment found at start, with the idempotency keys (and their receipt times) of its rows. */
export type RecoveredSegment = Segment & { keys: Map<string, number> }

type Open = { segment: Segment; file: fs.promises.FileHandle; size: number; dirty: boolean }

const SUFFIX = '.tsv'

/**
 * The acknowledgement point of POST /measure(s): an append-only directory of segment files. Rows
 * are appended by whole groups of requests, each append written then (with `fsync`) flushed to
 * disk before those requests are answered; a sealed segment is handed to the loader, which
 * inserts it into ClickHouse and then removes it. So a file's presence means "maybe not in
 * ClickHouse yet": at start every segment left is loaded again, and ClickHouse's insert
 * deduplication (the segment's name is the token) keeps what was loaded already from counting twice.
 *
 * The caller runs one operation at a time (src/measures/writer.ts chains them).
 */
export class Journal {
  readonly dir: string
  #fsync: boolean
  #open: Open | undefined

  private constructor(dir: string, fsync: boolean) {
    this.dir = dir
    this.#fsync = fsync
  }

  /**
   * Opens the journal directory (created 0700) and recovers what a crash left: a last append cut
   * short is cut off at its last whole row (it was never acknowledged), empty files are removed.
   */
  static open(dir: string, { fsync }: { fsync: boolean }): { journal: Journal; recovered: RecoveredSegment[] } {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    const recovered: RecoveredSegment[] = []
    for (const name of fs
      .readdirSync(dir)
      .filter((file) => file.endsWith(SUFFIX))
      .sort()) {
      const file = path.join(dir, name)
      const bytes = fs.readFileSync(file)
      const end = bytes.lastIndexOf(0x0a) + 1
      if (end !== bytes.length) fs.truncateSync(file, end)
      if (end === 0) {
        fs.rmSync(file)
        continue
      }
      const keys = new Map<string, number>()
      const lines = bytes.toString('utf8', 0, end).split('\n')
      lines.pop()
      for (const line of lines) {
        const fields = line.split('\t')
        const key = fields[COLUMN_INDEX.idempotency_key]
        if (key) keys.set(key, Date.parse(`${fields[COLUMN_INDEX.received_at].replace(' ', 'T')}Z`))
      }
      recovered.push({ name: name.slice(0, -SUFFIX.length), path: file, rows: lines.length, keys })
    }
    return { journal: new Journal(dir, fsync), recovered }
  }

  /** The segment being appended to, if any. */
  get open(): Segment | undefined {
    return this.#open?.segment
  }

  /**
   * Appends `rows` rows (`text`, whole lines) to the open segment (a new one if none), durable when
   * this resolves. On failure the segment is cut back to what it held, so nothing of it stays.
   */
  async append(text: string, rows: number): Promise<Segment> {
    const open = this.#open ?? (this.#open = await this.#create())
    if (open.dirty) await this.#cutBack(open)
    const buffer = Buffer.from(text)
    try {
      for (let written = 0; written < buffer.length; ) {
        const { bytesWritten } = await open.file.write(buffer, written, buffer.length - written, open.size + written)
        written += bytesWritten
      }
      if (this.#fsync) await open.file.datasync()
    } catch (err) {
      open.dirty = true
      await this.#cutBack(open).catch(() => undefined) // else before the next append or the seal
      throw err
    }
    open.size += buffer.length
    open.segment.rows += rows
    return open.segment
  }

  /** Closes the open segment for good and returns it (undefined when there is none). */
  async seal(): Promise<Segment | undefined> {
    const open = this.#open
    if (!open) return undefined
    if (open.dirty) await this.#cutBack(open)
    this.#open = undefined
    await open.file.close()
    if (open.size > 0) return open.segment
    await fs.promises.rm(open.segment.path, { force: true })
    return undefined
  }

  /** Removes a segment once it is in ClickHouse. */
  async remove(segment: Segment): Promise<void> {
    await fs.promises.rm(segment.path, { force: true })
  }

  async close(): Promise<void> {
    await this.seal()
  }

  async #create(): Promise<Open> {
    // Sortable by creation time; random, so that a name (the deduplication token) is never reused.
    const name = `${String(Date.now()).padStart(13, '0')}-${crypto.randomBytes(6).toString('hex')}`
    const file = path.join(this.dir, name + SUFFIX)
    const handle = await fs.promises.open(file, 'wx', 0o600)
    if (this.#fsync) {
      // The new file's directory entry must survive a power cut too.
      const directory = await fs.promises.open(this.dir, 'r')
      await directory.sync().finally(() => directory.close())
    }
    return { segment: { name, path: file, rows: 0 }, file: handle, size: 0, dirty: false }
  }

  async #cutBack(open: Open): Promise<void> {
    await open.file.truncate(open.size)
    open.dirty = false
  }
}

/** The columns of a journal row, in order: raw_measures' own names. */
export const COLUMNS = [
  'measure_name',
  'start_date',
  'created_by',
  'group1',
  'group2',
  'group3',
  'value',
  'with_quartiles',
  'contributor',
  'received_at',
  'idempotency_key',
] as const

const COLUMN_INDEX = Object.fromEntries(COLUMNS.map((column, index) => [column, index])) as Record<
  (typeof COLUMNS)[number],
  number
>

// TabSeparated escapes: a value never holds a raw tab or line break, so a row is one line.
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\0' }
const SPECIAL = /[\\\t\n\r\0]/
const escaped = (text: string) => (SPECIAL.test(text) ? text.replace(/[\\\t\n\r\0]/g, (char) => ESCAPES[char]) : text)

/** One journal row (COLUMNS, a line): `receivedAt` is `YYYY-MM-DD hh:mm:ss.sss`, `key` '' for none. */
export function journalLine(measure: StoredMeasure, receivedAt: string, key: string): string {
  return `${escaped(measure.measureName)}\t${measure.startDate}\t${escaped(measure.createdBy)}\t${escaped(measure.group1)}\t${escaped(measure.group2)}\t${escaped(measure.group3)}\t${measure.value}\t${measure.withQuartiles}\t${measure.contributor || 0}\t${receivedAt}\t${key}\n`
}
