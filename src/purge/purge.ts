import type { Definitions } from '../definitions/definitions.ts'
import type { Metrics } from '../metrics/metrics.ts'
import type { RunAny, RunOperation } from '../ops/operations.ts'
import type { PurgeResult } from './queries.ts'

/**
 * Purges the raw measures of `names` received before `before` and records the purge in SQLite:
 * `dacc purge` and the server's retention schedule both come here.
 */
export async function purgeMeasures(
  run: RunOperation,
  definitions: Definitions,
  names: string[],
  before: Date,
): Promise<PurgeResult> {
  const result = await run('purge', { names, before: before.toISOString() })
  definitions.recordPurge(names, new Date())
  return result
}

/** `run`, with the purges it runs counted (`purges.runs` by outcome, `purges.removed`): the server's retention's and the CLI's through its socket. */
export function countingPurges(run: RunAny, { runs, removed }: Metrics['purges']): RunAny {
  return async (name, args) => {
    if (name !== 'purge') return run(name, args)
    let result: PurgeResult
    try {
      result = (await run(name, args)) as PurgeResult
    } catch (err) {
      runs.inc({ outcome: 'failed' })
      throw err
    }
    runs.inc({ outcome: 'ok' })
    removed.inc(result.reduce((total, entry) => total + entry.removed, 0))
    return result
  }
}
