import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics/metrics.ts'
import { DAY_MS } from '../dates.ts'
import type { PurgeResult } from './queries.ts'

export type RetentionOptions = {
  /** Raw measures received more than this many days ago are purged. */
  days: number
  intervalMs: number
  /** Purges every measure's raw measures received before `before`. */
  purge: (before: Date) => Promise<PurgeResult>
  logger: Logger
  metrics: Metrics['purges']
  /** Calls `tick` every `ms` until the returned stop is called; setInterval (unref'd) by default, a test's hand otherwise. */
  every?: (tick: () => void, ms: number) => () => void
}

const everyInterval = (tick: () => void, ms: number) => {
  const timer = setInterval(tick, ms).unref()
  return () => clearInterval(timer)
}

export type Retention = { stop(): Promise<void> }

/**
 * Retention without cron: the server purges old raw measures at start, then every `intervalMs`.
 * A run never overlaps the previous one; a failed run is logged and the next one tries again. The
 * timer is unref'd, so it never keeps the process alive; `stop` waits for a run in progress, so the
 * server closes ClickHouse only after it.
 */
export function scheduleRetention({
  days,
  intervalMs,
  purge,
  logger,
  metrics,
  every = everyInterval,
}: RetentionOptions): Retention {
  let running: Promise<void> | undefined
  const runOnce = async () => {
    const before = new Date(Date.now() - days * DAY_MS)
    try {
      const result = await purge(before)
      const removed = result.filter((entry) => entry.removed > 0)
      logger.info(
        {
          before: before.toISOString(),
          measures: result.length,
          removed: removed.reduce((total, entry) => total + entry.removed, 0),
          byMeasure: Object.fromEntries(removed.map((entry) => [entry.measureName, entry.removed])),
        },
        'retention purge',
      )
      metrics.retentionRuns.inc({ outcome: 'ok' })
    } catch (err) {
      metrics.retentionRuns.inc({ outcome: 'failed' })
      logger.error({ err }, 'retention purge failed')
    }
  }
  const tick = () => {
    running ??= runOnce().finally(() => (running = undefined))
  }
  tick()
  const stopTicking = every(tick, intervalMs)
  return {
    stop: async () => {
      stopTicking()
      await running
    },
  }
}
