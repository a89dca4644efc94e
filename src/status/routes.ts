import Router from '@koa/router'
import { firstLine } from '../errors.ts'

type Details = Record<string, string | number>
export type Check =
  | ({ status: 'ok' } & Details)
  | ({ status: 'degraded'; error: string } & Details)
  | { status: 'ko'; error: string }

export type StatusDeps = {
  /** ClickHouse: a trivial query, and the engine's version. */
  clickhouse: { ping(): Promise<unknown>; version: string }
  /** The SQLite store of definitions and tokens. */
  sqlite: { ping(): unknown }
  /** The write path: the journal and the loader into ClickHouse (src/measures/health.ts). */
  writes(): Check
}

/** `details` describe a dependency that answers; `status` comes first, for people reading it. */
async function check(probe: () => unknown, details: Details = {}): Promise<Check> {
  try {
    await probe()
    return { status: 'ok', ...details }
  } catch (err) {
    return { status: 'ko', error: firstLine(err) }
  }
}

/**
 * GET /status, no auth: `db` is ClickHouse (where measures live, as the original's database)
 * and its version, `sqlite` the definitions and tokens store, `writes` whether measures are being
 * acknowledged and loaded. `global_status` is the worst of them: `ko` with a 503 when one is ko,
 * so load balancers see it; `degraded` (200) when the instance takes and answers writes but an
 * operator should look (src/measures/health.ts); else `ok`.
 */
export function statusRoutes({ clickhouse, sqlite, writes }: StatusDeps): Router {
  const router = new Router()
  router.get('/status', async (ctx) => {
    const [db, store] = await Promise.all([
      check(() => clickhouse.ping(), { version: clickhouse.version }),
      check(() => sqlite.ping()),
    ])
    const checks = { db, sqlite: store, writes: writes() }
    const states = Object.values(checks).map((entry) => entry.status)
    const global = states.includes('ko') ? 'ko' : states.includes('degraded') ? 'degraded' : 'ok'
    ctx.status = global === 'ko' ? 503 : 200
    ctx.body = { ...checks, global_status: global }
  })
  return router
}
