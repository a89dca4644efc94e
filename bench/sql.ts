// npm run bench -- --only sql: what data engineers' queries cost the service. `dacc serve` with its
// SQL interface on (1 thread a query, the default), POST /measure at 50 connections and /aggregate
// at 10, in rounds with 0, 1 (the default bound) and 2 (the bound raised to 2) heavy analyst
// queries running, CPU-bound, each until the interface's own time limit stops it.
import { openStore } from '../src/store/store.ts'
import { createTokens } from '../src/tokens/tokens.ts'
import { freePort } from '../test/helpers/ports.ts'

type Server = { url: string; stop(): Promise<void> }
type Row = { reqPerSec: number; ok: number; p99: number; note?: string }

/** What bench/run.ts lends this phase. */
export type BenchTools = {
  serve(dataDir: string, options: { env: Record<string, string> }): Promise<Server>
  prepare(definitions: object[]): Promise<{ dataDir: string; token: string }>
  load(scenario: string, load: { url: string; connections: number; token?: string; body?: string }): Promise<Row>
  drain(url: string): Promise<number>
  results: Record<string, unknown>
  durationS: number
}

/** One core's worth of work for as long as it is let run. */
const HEAVY = 'SELECT count() FROM numbers(1000000000000) WHERE cityHash64(number) % 7 = 0'

export async function sqlCost({ serve, prepare, load, drain, results, durationS }: BenchTools): Promise<void> {
  const measure = 'bench-sql'
  const { dataDir, token } = await prepare([
    { name: measure, group1Key: 'device', aggregationThreshold: 1, accessApp: true },
  ])
  const store = openStore(dataDir)
  const analyst = await createTokens(store, '').create('bench-analyst', ['sql:raw'])
  store.close()
  const sqlPort = await freePort()
  // Each analyst query ends on its own, just after the round it loads: a client that leaves does
  // not stop its query on the embedded engine (README: For data engineers).
  const server = await serve(dataDir, {
    env: {
      DACC_SQL_PORT: String(sqlPort),
      DACC_SQL_MAX_EXECUTION_SECONDS: String(durationS + 2),
      DACC_SQL_MAX_CONCURRENT_QUERIES: '2',
    },
  })
  const body = JSON.stringify({
    measureName: measure,
    value: 3,
    startDate: '2022-01-01',
    createdBy: 'bench',
    group1: { device: 'desktop' },
  })
  const question = JSON.stringify({ measureName: measure, startDate: '2022-01-01', endDate: '2022-02-01' })
  const authorization = `Basic ${Buffer.from(`analyst:${analyst}`).toString('base64')}`
  const rounds: Record<string, unknown>[] = []
  for (const analysts of [0, 1, 2, 0]) {
    const running = Array.from({ length: analysts }, () =>
      fetch(`http://127.0.0.1:${sqlPort}/`, { method: 'POST', headers: { authorization }, body: HEAVY }).then(
        async (response) => ({ status: response.status, text: (await response.text()).slice(0, 80) }),
      ),
    )
    // Let them start before the load does.
    await new Promise((resolve) => setTimeout(resolve, 500))
    const label = `${analysts} analyst ${analysts === 1 ? 'query' : 'queries'} running`
    const writes = await load(`measure, ${label}`, { url: `${server.url}/measure`, connections: 50, token, body })
    const reads = await load(`aggregate, ${label}`, {
      url: `${server.url}/aggregate`,
      connections: 10,
      token,
      body: question,
    })
    const answers = await Promise.all(running)
    const drainedMs = Math.round(await drain(server.url))
    rounds.push({
      analysts,
      measureReqPerSec: writes.reqPerSec,
      measureP99: writes.p99,
      aggregateReqPerSec: reads.reqPerSec,
      aggregateP99: reads.p99,
      backlogLoadedMs: drainedMs,
      analystAnswers: answers.map((answer) => `${answer.status} ${answer.text.split('.')[0]}`),
    })
  }
  const idle = rounds.filter((round) => round.analysts === 0).map((round) => round.measureReqPerSec as number)
  const base = idle.reduce((total, rate) => total + rate, 0) / idle.length
  results.sql = {
    rounds,
    measureRatioWithTwoAnalysts: Math.round(((rounds[2].measureReqPerSec as number) / base) * 100) / 100,
  }
  await server.stop()
}
