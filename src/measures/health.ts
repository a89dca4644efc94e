import type { Check } from '../status/routes.ts'
import type { Loader } from './loader.ts'
import type { Writer } from './writer.ts'

/** A load attempt still running after this long is stuck (a segment loads in well under a second). */
const STUCK_MS = 30_000

/**
 * The write path's entry of GET /status: ko while the journal cannot be written (measures are
 * refused), and while loading into ClickHouse fails or hangs (measures are acknowledged but pile
 * up until the backlog is full); ok again at the next success. `backlog` is the measures not yet loaded.
 */
export function writeHealth(writer: Writer, loader: Loader, now = Date.now()): Check {
  if (writer.failure) return { status: 'ko', error: writer.failure }
  const failure = loader.failure
  if (failure) {
    const seconds = Math.round((now - failure.since) / 1000)
    return {
      status: 'ko',
      error: `loading into ClickHouse fails (for ${seconds} s, ${writer.backlog} measures waiting): ${failure.message}`,
    }
  }
  const busy = loader.busySince
  if (busy !== undefined && now - busy > STUCK_MS) {
    return {
      status: 'ko',
      error: `loading into ClickHouse has not progressed for ${Math.round((now - busy) / 1000)} s (${writer.backlog} measures waiting)`,
    }
  }
  return { status: 'ok', backlog: writer.backlog }
}
