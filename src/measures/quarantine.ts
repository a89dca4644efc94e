import fs from 'node:fs'
import path from 'node:path'
import { syncDirectory } from './journal.ts'

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
export const retryToken = (entry: Reason) => `${entry.token.replace(/-retry\d+$/, '')}-retry${entry.attempts}`

export const quarantineDir = (journalDir: string) => path.join(journalDir, 'quarantine')

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
export function writeReason(entry: QuarantineEntry): void {
  const { id: _id, dir, file: _file, ...reason } = entry
  const target = path.join(dir, REASON)
  fs.writeFileSync(`${target}.part`, JSON.stringify(reason, null, 2), { mode: 0o600, flush: true })
  fs.renameSync(`${target}.part`, target)
  syncDirectory(dir)
}

/** Removes an entry (retried successfully, or discarded), durably. */
export function removeEntry(journalDir: string, entry: QuarantineEntry): void {
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
