import type { Check } from '../status/routes.ts'
import type { Loader } from './loader.ts'
import type { Writer } from './writer.ts'

export type WriteHealthOptions = {
  /** An append (write and fsync) still running after this long is stuck: writes are ko (ingest.appendStallMs). */
  appendStallMs: number
  /** A load still running after this long is stuck (a segment loads in well under a second). */
  loadStallMs: number
}

/**
 * The write path's entry of GET /status, in three states, each with what to do about it:
 * - `ko` (503): the journal cannot take writes — an append failed and none has succeeded since,
 *   or one has been stuck past `appendStallMs`. Producers get 503: a load balancer should send
 *   them elsewhere, an orchestrator may replace the instance.
 * - `degraded` (200): the journal takes writes and answers count them, but something needs an
 *   operator: loading into ClickHouse fails or hangs (the backlog grows until it is full, then
 *   503s), loads were set aside (the quarantine), or a segment in doubt at start has not loaded
 *   yet (answers leave it out until it does). An instance absorbing a ClickHouse outage in
 *   its journal is still the right place for its producers: keep it.
 * - `ok` otherwise. `backlog` is the measures acknowledged and not yet loaded.
 */
export function writeHealth(writer: Writer, loader: Loader, options: WriteHealthOptions, now = Date.now()): Check {
  if (writer.failure) return { status: 'ko', error: writer.failure }
  const appending = writer.appendingSince
  if (appending !== undefined && now - appending > options.appendStallMs) {
    return {
      status: 'ko',
      error: `a journal append (write and fsync) has not completed for ${seconds(now - appending)} s`,
    }
  }
  const problems: string[] = []
  const failure = loader.failure
  if (failure) {
    problems.push(
      `loading into ClickHouse fails (for ${seconds(now - failure.since)} s, ${writer.backlog} measures waiting): ${failure.message}`,
    )
  }
  const busy = loader.busySince
  if (busy !== undefined && now - busy > options.loadStallMs) {
    problems.push(
      `loading into ClickHouse has not progressed for ${seconds(now - busy)} s (${writer.backlog} measures waiting)`,
    )
  }
  const unresolved = loader.unresolved
  if (unresolved.length > 0) {
    const measures = unresolved.reduce((total, segment) => total + segment.rows, 0)
    problems.push(
      `${unresolved.length} segment(s) in doubt since the start, ${measures} measures: counted in answers once loaded`,
    )
  }
  const quarantined = loader.quarantine.entries
  if (quarantined.length > 0) {
    const measures = quarantined.reduce((total, entry) => total + entry.rows, 0)
    problems.push(
      `${quarantined.length} load(s) set aside, ${measures} measures (dacc quarantine list); the first: ${quarantined[0].error}`,
    )
  }
  if (problems.length === 0) return { status: 'ok', backlog: writer.backlog }
  return {
    status: 'degraded',
    error: problems.join('; '),
    backlog: writer.backlog,
    quarantined: quarantined.length,
  }
}

const seconds = (ms: number) => Math.round(ms / 1000)
