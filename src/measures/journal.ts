import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { frame, scanFrames, type Frame } from './frames.ts'
import { parseJournalLine, type JournalRow } from './rows.ts'

/** One file of the journal: framed raw_measures rows (frames.ts), loaded into ClickHouse by one INSERT. */
export type Segment = { name: string; path: string; rows: number }

/** A segment found at start: its rows, from its whole frames only. */
export type RecoveredSegment = Segment & { entries: JournalRow[] }

/** A segment found damaged at start (a frame fails its check and a whole one follows): its whole frames' rows, and what is wrong. */
export type DamagedSegment = RecoveredSegment & { damage: string }

type Open = { segment: Segment; file: fs.promises.FileHandle; size: number; dirty: boolean; failed: boolean }

const SUFFIX = '.tsv'

/**
 * The acknowledgement point of POST /measure(s): an append-only directory of segment files. Rows
 * are appended by whole groups of requests, each append one frame (frames.ts), written then
 * (with `fsync`) flushed to disk before those requests are answered; a sealed segment is handed
 * to the loader, which inserts it into ClickHouse and then removes it. So a file's presence means
 * "maybe not in ClickHouse yet": at start every segment left is loaded again, and ClickHouse's
 * insert deduplication (the segment's token) keeps what was loaded already from counting twice.
 *
 * An append that fails (a write or an fsync: the disk full, an I/O error) is cut back, and the
 * segment is sealed before the next append, which starts a new file: after a failed fsync the
 * kernel may have dropped pages of that file, so nothing more is acknowledged through it.
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
   * Opens the journal directory (created 0700) and recovers what a crash left: the torn end of a
   * last append is cut off (it was never acknowledged), empty files are removed, and a file whose
   * frames fail their checks before a whole one is returned as damaged, untouched.
   */
  static open(
    dir: string,
    { fsync }: { fsync: boolean },
  ): { journal: Journal; recovered: RecoveredSegment[]; damaged: DamagedSegment[] } {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
    const recovered: RecoveredSegment[] = []
    const damaged: DamagedSegment[] = []
    for (const name of fs
      .readdirSync(dir)
      .filter((file) => file.endsWith(SUFFIX))
      .sort()) {
      const file = path.join(dir, name)
      const bytes = fs.readFileSync(file)
      const scan = scanFrames(bytes)
      const segment = { name: name.slice(0, -SUFFIX.length), path: file }
      const entries = rowsOf(bytes, scan.frames)
      if (scan.damage) {
        damaged.push({ ...segment, rows: entries.length, entries, damage: scan.damage })
        continue
      }
      if (scan.end !== bytes.length) cutFile(file, scan.end, fsync)
      if (scan.end === 0) fs.rmSync(file)
      else recovered.push({ ...segment, rows: entries.length, entries })
    }
    if (fsync) syncDirectory(dir)
    return { journal: new Journal(dir, fsync), recovered, damaged }
  }

  /** The segment being appended to, if any. */
  get open(): Segment | undefined {
    return this.#open?.segment
  }

  /** Whether an append to the open segment failed: it must be sealed before the next append, which starts a new file. */
  get failed(): boolean {
    return this.#open?.failed === true
  }

  /**
   * Appends `rows` rows (`text`, whole lines) as one frame to the open segment (a new one if none),
   * durable when this resolves. On failure the segment is cut back to what it held, so nothing of
   * the failed append stays.
   */
  async append(text: string, rows: number): Promise<Segment> {
    if (this.#open?.failed) throw new Error('the last append to this segment failed: seal it first')
    const open = this.#open ?? (this.#open = await this.#create())
    const buffer = frame(text, rows)
    try {
      for (let written = 0; written < buffer.length; ) {
        const { bytesWritten } = await open.file.write(buffer, written, buffer.length - written, open.size + written)
        written += bytesWritten
      }
      if (this.#fsync) await open.file.datasync()
    } catch (err) {
      open.dirty = true
      open.failed = true
      await this.#cutBack(open).catch(() => undefined) // else before the seal, which the next append does
      throw err
    }
    open.size += buffer.length
    open.segment.rows += rows
    return open.segment
  }

  /** Closes the open segment for good and returns it (undefined when there is none, or it is empty). */
  async seal(): Promise<Segment | undefined> {
    return this.#seal()
  }

  /**
   * Removes a segment once it is in ClickHouse. Not flushed: one a power cut brings back is loaded
   * again at the next start, and deduplicated by the engine's record of it, which the loader put on
   * disk before (loader.ts: #confirm). A directory fsync here cost as much as a load's INSERT.
   */
  async remove(segment: Segment): Promise<void> {
    await fs.promises.rm(segment.path, { force: true })
  }

  async close(): Promise<void> {
    await this.#seal()
  }

  async #seal(): Promise<Segment | undefined> {
    const open = this.#open
    if (!open) return undefined
    if (open.dirty) await this.#cutBack(open) // throws while the disk refuses: the segment stays open
    this.#open = undefined
    await open.file.close()
    if (open.size > 0) return open.segment
    await fs.promises.rm(open.segment.path, { force: true })
    return undefined
  }

  async #create(): Promise<Open> {
    // Sortable by creation time; random, so that a name (the deduplication token) is never reused.
    const name = `${String(Date.now()).padStart(13, '0')}-${crypto.randomBytes(6).toString('hex')}`
    const file = path.join(this.dir, name + SUFFIX)
    const handle = await fs.promises.open(file, 'wx', 0o600)
    // The new file's directory entry must survive a power cut too.
    if (this.#fsync) await syncDirectoryAsync(this.dir)
    return { segment: { name, path: file, rows: 0 }, file: handle, size: 0, dirty: false, failed: false }
  }

  async #cutBack(open: Open): Promise<void> {
    await open.file.truncate(open.size)
    if (this.#fsync) await open.file.datasync()
    open.dirty = false
  }
}

/** The rows of a segment file's whole frames. */
export function readSegment(file: string): JournalRow[] {
  const bytes = fs.readFileSync(file)
  return rowsOf(bytes, scanFrames(bytes).frames)
}

/** The bytes of a segment file's whole frames (a damaged file's, to load what can be trusted). */
export function wholeFrames(file: string): Buffer {
  const bytes = fs.readFileSync(file)
  return Buffer.concat(scanFrames(bytes).frames.map((frame) => bytes.subarray(frame.start, frame.end)))
}

const rowsOf = (bytes: Buffer, frames: Frame[]): JournalRow[] =>
  frames.flatMap((frame) =>
    bytes.toString('utf8', frame.start, frame.rowsEnd).split('\n').slice(0, -1).map(parseJournalLine),
  )

/** Cuts a file back to `size` bytes, durably. */
function cutFile(file: string, size: number, fsync: boolean): void {
  const fd = fs.openSync(file, 'r+')
  try {
    fs.ftruncateSync(fd, size)
    if (fsync) fs.fdatasyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/** Flushes a directory's entries (a file created, renamed or removed in it) to disk. */
export function syncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

export async function syncDirectoryAsync(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, 'r')
  await handle.sync().finally(() => handle.close())
}
