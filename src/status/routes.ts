import Router from '@koa/router'
import type { Deps } from '../app.ts'
import { firstLine } from '../errors.ts'

type Check = ({ status: 'ok' } & Record<string, string>) | { status: 'ko'; error: string }

/** `details` describe a dependency that answers; `status` comes first, for people reading it. */
async function check(probe: () => unknown, details: Record<string, string> = {}): Promise<Check> {
  try {
    await probe()
    return { status: 'ok', ...details }
  } catch (err) {
    return { status: 'ko', error: firstLine(err) }
  }
}

/**
 * GET /status, no auth: `db` is ClickHouse (where measures live, as the original's database)
 * and its version, `sqlite` the definitions and tokens store. 503 when one is down, so load
 * balancers see it.
 */
export function statusRoutes({ clickhouse, store }: Deps): Router {
  const router = new Router()
  router.get('/status', async (ctx) => {
    const [db, sqlite] = await Promise.all([
      check(() => clickhouse.client.query({ query: 'SELECT 1', format: 'JSONEachRow' }).then((result) => result.json()), {
        version: clickhouse.version,
      }),
      check(() => store.db.prepare('SELECT 1').get()),
    ])
    const ok = db.status === 'ok' && sqlite.status === 'ok'
    ctx.status = ok ? 200 : 503
    ctx.body = { db, sqlite, global_status: ok ? 'ok' : 'ko' }
  })
  return router
}
