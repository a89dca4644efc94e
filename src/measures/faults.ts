/**
 * Test-only crash points of the write path. With DACC_TEST_CRASH_AT set to one of them, the server
 * kills itself (SIGKILL, as a power-less crash would) the first time it gets there, so that the
 * kill tests can restart it and check what was kept; unset, as in production, every call is a no-op.
 * - `after-append`: the requests' rows are durable in the journal, not yet answered;
 * - `before-load`: answered, not yet in ClickHouse;
 * - `between-raw-and-aggregates`: the rows are in raw_measures but the view has not written their
 *   aggregate states (the view is detached for that one insert, which is the state a crash
 *   between the two commits of an INSERT leaves);
 * - `after-load`: in ClickHouse, the segment not yet removed from the journal.
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
