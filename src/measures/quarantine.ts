import fs from 'node:fs'
import path from 'node:path'
import { UsageError, firstLine } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics/metrics.ts'
import { readSegment, syncDirectory, wholeFrames, type Segment } from './journal.ts'

/**
 * What ClickHouse refused for good, set aside so that the rest keeps loading: a journal segment
 * or an import chunk, moved whole into `<journalDir>/quarantine/<id>/` beside a `reason.json` that
 * says why. Kept until an operator retries it (after a fix) or discards it (`dacc quarantine`):
 * never dropped silently. Like ClickHouse's own `detached/broken_*` parts, but for our loads.
 */

export type QuarantineKind = 'segment' | 'import-chunk'

export type Reason = {
  kind: QuarantineKind
  rows: number
  /** Rows per measure name. */
  measures: Record<string, number>
  /** The first line of the last error. */
  error: string
  attempts: number
  quarantinedAt: string
  /**
   * The deduplication token of the last attempt. Each retry gets a token of its own (`retryToken`):
   * the engine may still remember an old one and would drop a retry under it.
   */
  token: string
  /** Whether the raw rows the last attempt may have committed were deleted (raw and aggregates then agree). */
  cleaned: boolean
  /** Set while an attempt may have committed without a word back (a retry in flight, an answer lost): replayed with `token` first. */
  inDoubt?: boolean
}

export type QuarantineEntry = Reason & { id: string; dir: string; file: string }

const DATA = { segment: 'segment.tsv', 'import-chunk': 'chunk.json' } as const
const REASON = 'reason.json'

/** The deduplication token (and load_token) of a segment's or a chunk's first load. */
export const firstToken = (kind: QuarantineKind, id: string) => (kind === 'segment' ? `dacc-journal-${id}` : id)

/** The token of the next attempt of an entry: its first load's, with the number of attempts so far. */
const retryToken = (entry: Reason) => `${entry.token.replace(/-retry\d+$/, '')}-retry${entry.attempts}`

/** How many of the rows each measure name has: what an entry holds, as `dacc quarantine` shows it. */
export function countByName(names: string[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const name of names) counts[name] = (counts[name] ?? 0) + 1
  return counts
}

const quarantineDir = (journalDir: string) => path.join(journalDir, 'quarantine')

/** Moves `file` into the quarantine under `id`, with its reason, durably. */
export function setAside(journalDir: string, id: string, file: string, reason: Reason): QuarantineEntry {
  const root = quarantineDir(journalDir)
  const dir = path.join(root, id)
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  const entry = { ...reason, id, dir, file: path.join(dir, DATA[reason.kind]) }
  writeReason(entry)
  if (file !== entry.file) fs.renameSync(file, entry.file)
  syncDirectory(dir)
  syncDirectory(root)
  syncDirectory(path.dirname(file))
  return entry
}

/** Records a changed reason (a failed retry, a retry starting), durably. */
function writeReason(entry: QuarantineEntry): void {
  const { id: _id, dir, file: _file, ...reason } = entry
  const target = path.join(dir, REASON)
  fs.writeFileSync(`${target}.part`, JSON.stringify(reason, null, 2), { mode: 0o600, flush: true })
  fs.renameSync(`${target}.part`, target)
  syncDirectory(dir)
}

/** Removes an entry (retried successfully, or discarded), durably. */
function removeEntry(journalDir: string, entry: QuarantineEntry): void {
  fs.rmSync(entry.dir, { recursive: true, force: true })
  syncDirectory(quarantineDir(journalDir))
}

/**
 * The entries of the quarantine, oldest first. A directory left without its data file (a process
 * stopped before the move: the file is still where it was) is removed; an entry whose reason was
 * not written reads as such.
 */
export function listQuarantine(journalDir: string): QuarantineEntry[] {
  const root = quarantineDir(journalDir)
  if (!fs.existsSync(root)) return []
  const entries: QuarantineEntry[] = []
  for (const id of fs.readdirSync(root).sort()) {
    const dir = path.join(root, id)
    const reason = readReason(dir)
    const kind = reason?.kind ?? (fs.existsSync(path.join(dir, DATA['import-chunk'])) ? 'import-chunk' : 'segment')
    const file = path.join(dir, DATA[kind])
    if (!fs.existsSync(file)) {
      fs.rmSync(dir, { recursive: true, force: true })
      continue
    }
    entries.push({
      kind,
      rows: 0,
      measures: {},
      error: 'set aside by a process that stopped before recording why',
      attempts: 0,
      quarantinedAt: fs.statSync(file).mtime.toISOString(),
      token: firstToken(kind, id),
      cleaned: false,
      ...reason,
      id,
      dir,
      file,
    })
  }
  return entries
}

function readReason(dir: string): Reason | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, REASON), 'utf8')) as Reason
  } catch {
    return undefined
  }
}

export type QuarantineOptions = {
  journalDir: string
  /** Deletes the raw rows a load with this token committed (queries.ts: deleteRawRows). */
  deleteRows(token: string): Promise<void>
  logger: Logger
  metrics: Pick<Metrics['loads'], 'quarantined' | 'quarantinedMeasures'>
}

/**
 * What is set aside, in memory as on disk, and how an entry moves: set aside (its raw rows
 * deleted), retried (in doubt until its answer), loaded or discarded. The loader runs the retries
 * (they are loads); everything else of an entry's life is here.
 */
export class Quarantine {
  #options: QuarantineOptions
  #entries = new Map<string, QuarantineEntry>()

  constructor(options: QuarantineOptions) {
    this.#options = options
    for (const entry of listQuarantine(options.journalDir)) this.#entries.set(entry.id, entry)
    this.#count()
  }

  /** Oldest first. */
  get entries(): QuarantineEntry[] {
    return [...this.#entries.values()]
  }

  /** The entries named (all when none is), each of them known, or a usage error naming the unknown one. */
  named(ids: string[]): QuarantineEntry[] {
    if (ids.length === 0) return this.entries
    return ids.map((id) => {
      const entry = this.#entries.get(id)
      if (!entry) throw new UsageError(`nothing set aside is named ${id} (dacc quarantine list)`)
      return entry
    })
  }

  /**
   * Sets a journal segment aside after `attempts` failed loads under `token` (the last error
   * `error`), or a segment found at start that cannot simply be loaded: `damaged` (a frame fails
   * its check before a whole one: its whole frames only are kept to load, the file as found beside
   * them), or in doubt beyond what the engine's deduplication still covers. The raw rows its
   * attempts committed are deleted (now, or before a retry or discard if the engine refuses).
   */
  async setAside(
    segment: Segment,
    { error, attempts, token, damaged = false }: { error: string; attempts: number; token: string; damaged?: boolean },
  ): Promise<QuarantineEntry> {
    const whole = damaged ? wholeFrames(segment.path) : undefined
    const rows = readSegment(segment.path)
    const entry = setAside(this.#options.journalDir, segment.name, segment.path, {
      kind: 'segment',
      rows: rows.length,
      measures: countByName(rows.map(({ measure }) => measure.measureName)),
      error,
      attempts,
      quarantinedAt: new Date().toISOString(),
      token,
      cleaned: false,
    })
    if (whole) {
      fs.renameSync(entry.file, path.join(entry.dir, 'damaged.tsv'))
      fs.writeFileSync(entry.file, whole, { mode: 0o600, flush: true })
      syncDirectory(entry.dir)
    }
    this.#entries.set(entry.id, entry)
    this.#count()
    await this.clean(entry).catch(() => undefined)
    return entry
  }

  /**
   * The token a retry of `entry` loads under, the entry marked in doubt meanwhile. In doubt already,
   * its last attempt may have committed: replayed under its own token, it completes (its rows must
   * stay). Otherwise its rows are gone, and a token of its own starts afresh (the engine may still
   * remember the old one and drop the rows under it).
   */
  async retrying(entry: QuarantineEntry): Promise<string> {
    if (!entry.inDoubt) await this.clean(entry)
    const token = entry.inDoubt ? entry.token : retryToken(entry)
    Object.assign(entry, { token, inDoubt: true, cleaned: false })
    writeReason(entry)
    return token
  }

  /** A retry the engine refused: still set aside, its rows deleted. */
  async refused(entry: QuarantineEntry, err: unknown): Promise<void> {
    Object.assign(entry, { inDoubt: false, attempts: entry.attempts + 1, error: firstLine(err) })
    writeReason(entry)
    await this.clean(entry).catch(() => undefined)
  }

  /** A retry that got no answer in time: still in doubt, replayed under its token by the next one. */
  unanswered(entry: QuarantineEntry, why: string): void {
    entry.error = why
    writeReason(entry)
  }

  /** A retry that loaded: the entry goes. */
  loaded(entry: QuarantineEntry): void {
    this.#remove(entry)
    const { id, kind, rows } = entry
    this.#options.logger.info({ id, kind, rows }, 'a set-aside load was retried and loaded')
  }

  /** Discards an entry for good: its rows leave ClickHouse (if any were there) and the quarantine, logged. */
  async discard(id: string): Promise<QuarantineEntry> {
    const [entry] = this.named([id])
    await this.clean(entry)
    this.#remove(entry)
    const { kind, rows, measures, error } = entry
    this.#options.logger.warn({ id, kind, rows, measures, error }, 'discarded a set-aside load for good')
    return entry
  }

  /** Deletes the raw rows an entry's last attempt may have left (none left: raw and aggregates agree). */
  async clean(entry: QuarantineEntry): Promise<void> {
    if (entry.cleaned) return
    await this.#options.deleteRows(entry.token)
    entry.cleaned = true
    writeReason(entry)
  }

  #remove(entry: QuarantineEntry): void {
    removeEntry(this.#options.journalDir, entry)
    this.#entries.delete(entry.id)
    this.#count()
  }

  #count(): void {
    this.#options.metrics.quarantined.set(this.#entries.size)
    this.#options.metrics.quarantinedMeasures.set(this.entries.reduce((total, entry) => total + entry.rows, 0))
  }
}
