/**
 * Test-only faults of the write path, off in production (every call is then a no-op).
 *
 * With DACC_TEST_CRASH_AT set to one of CRASH_POINTS, the server kills itself (SIGKILL, as a
 * power-less crash would) the first time it gets there, so that the kill tests can restart it and
 * check what was kept:
 * - `after-append`: the requests' rows are durable in the journal, not yet answered;
 * - `before-load`: answered, not yet in ClickHouse;
 * - `between-raw-and-aggregates`: the rows are in raw_measures but the view has not written their
 *   aggregate states (the view is detached for that one insert, which is the state a crash
 *   between the two commits of an INSERT leaves);
 * - `after-load`: in ClickHouse, the segment not yet removed from the journal.
 *
 * With DACC_TEST_LOAD_FAULT=`lost-answer:N`, the first N load attempts whose INSERT succeeded
 * throw as if its answer had been lost on the way (a connection reset): the outcome the loader
 * cannot tell from a failure, so it must retry without counting the segment twice anywhere.
 */
export const CRASH_POINTS = ['after-append', 'before-load', 'between-raw-and-aggregates', 'after-load'] as const
export type CrashPoint = (typeof CRASH_POINTS)[number]

export type Crash = {
  /** The point this process dies at, if any. */
  readonly point: CrashPoint | undefined
  at(point: CrashPoint): void
}

export function crashHook(point: string | undefined): Crash {
  if (point !== undefined && point !== '' && !(CRASH_POINTS as readonly string[]).includes(point)) {
    throw new Error(`DACC_TEST_CRASH_AT must be one of ${CRASH_POINTS.join(', ')}, got: ${point}`)
  }
  const chosen = point ? (point as CrashPoint) : undefined
  return {
    point: chosen,
    at: (reached) => {
      if (reached === chosen) process.kill(process.pid, 'SIGKILL')
    },
  }
}

export type LoadFault = {
  /** Called once a load's INSERT succeeded: throws while the fault lasts. */
  afterInsert(): void
}

export function loadFault(spec: string | undefined): LoadFault {
  if (!spec) return { afterInsert: () => undefined }
  const match = /^lost-answer:(\d+)$/.exec(spec)
  if (!match) throw new Error(`DACC_TEST_LOAD_FAULT must be lost-answer:N, got: ${spec}`)
  let left = Number(match[1])
  return {
    afterInsert: () => {
      if (left <= 0) return
      left--
      throw Object.assign(new Error('read ECONNRESET (test fault: the INSERT committed, its answer was lost)'), {
        code: 'ECONNRESET',
      })
    },
  }
}
