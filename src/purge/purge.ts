import type { Definitions } from '../definitions/definitions.ts'
import type { RunOperation } from '../ops/operations.ts'
import type { PurgeResult } from './queries.ts'

/**
 * Purges the raw measures of `names` received before `before` and records the purge in SQLite:
 * `dacc purge` and the server's retention schedule both come here.
 */
export async function purgeMeasures(run: RunOperation, definitions: Definitions, names: string[], before: Date): Promise<PurgeResult> {
  const result = await run('purge', { names, before: before.toISOString() })
  definitions.recordPurge(names, new Date())
  return result
}
