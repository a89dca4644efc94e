import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { Config } from '../../src/config.ts'
import { scrape } from '../helpers/metrics.ts'
import { freePort } from '../helpers/ports.ts'
import { capturingLogger, runCli, startTestServer, testConfig, type TestServer } from '../helpers/server.ts'
import { createDefinitions } from '../../src/definitions/definitions.ts'

// A segment ClickHouse refuses for good is set aside, and the next ones load: /status, the metric,
// `dacc quarantine list` show it; its measures stay counted; a restart changes none of this; a
// retry after the fix loads it exactly once (raw and aggregates); a discard removes it and logs it.
// The refusal is ClickHouse's own: a CHECK constraint on raw_measures that poisoned rows break.
const test = suite('a segment ClickHouse refuses')

const POISON = 'poison'
const GOOD = 'good'
const CONSTRAINT = `ALTER TABLE raw_measures ADD CONSTRAINT no_poison CHECK measure_name != '${POISON}'`

type Started = { server: TestServer; lines: Record<string, unknown>[]; token: string }

/** A server on `config`'s data directory, and a token of its store (the same one again when given: retries are per token). */
async function start(config: Config, token?: string): Promise<Started> {
  const { logger, lines } = capturingLogger()
  const server = await startTestServer({ dataDir: config.dataDir, metrics: config.metrics }, logger)
  return { server, lines, token: token ?? (await server.token()) }
}

const post = ({ server, token }: Started, route: string, body: unknown, key?: string) =>
  server.post(route, body, token, key ? { 'Idempotency-Key': key } : {})
const measures = (name: string, count: number, value = 1) =>
  Array.from({ length: count }, (_, i) => ({ measureName: name, value, startDate: `2022-01-0${1 + (i % 3)}` }))
const counted = async (started: Started, name: string) => {
  const answer = await post(started, '/aggregate', {
    measureName: name,
    startDate: '2022-01-01',
    endDate: '2022-02-01',
  })
  return ((await answer.json()) as { count: number }[]).reduce((total, row) => total + row.count, 0)
}
const query = async <T>({ server }: Started, sql: string) =>
  (await server.deps.clickhouse.client.query({ query: sql, format: 'JSONEachRow' })).json<T>()
const stored = async (started: Started, name: string) => {
  const [row] = await query<{ raw: number; aggregated: number }>(
    started,
    `SELECT (SELECT count() FROM raw_measures WHERE measure_name = '${name}') AS raw,
            (SELECT sum(count) FROM aggregates WHERE measure_name = '${name}') AS aggregated`,
  )
  return row
}
type Status = {
  code: number
  global_status: string
  writes: { status: string; error?: string; backlog?: number; quarantined?: number }
}
const status = async ({ server }: Started): Promise<Status> => {
  const response = await fetch(`${server.url}/status`)
  return { code: response.status, ...((await response.json()) as Omit<Status, 'code'>) }
}
const until = async (check: () => Promise<boolean>, what: string) => {
  for (const deadline = Date.now() + 15_000; !(await check()); ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
const cli = (config: Config, ...args: string[]) => runCli(['quarantine', ...args], { DACC_DATA_DIR: config.dataDir })

test('set aside, shown, counted, kept across a restart, retried after the fix exactly once, or discarded', async () => {
  const config = testConfig({ metrics: { port: await freePort() } })
  let started = await start(config)
  createDefinitions(started.server.deps.store).insertFile(
    writeDefinitions([
      { name: POISON, aggregationThreshold: 1, accessApp: true, withQuartiles: true },
      { name: GOOD, aggregationThreshold: 1, accessApp: true },
    ]),
  )
  try {
    await started.server.deps.clickhouse.client.command({ query: CONSTRAINT })

    assert.is((await post(started, '/measures', measures(POISON, 40), 'poisoned-batch')).status, 201)
    await until(async () => (await status(started)).writes.status === 'degraded', 'the segment to be set aside')
    assert.is((await post(started, '/measures', measures(GOOD, 25))).status, 201, 'the next ones are taken')
    await until(async () => (await stored(started, GOOD)).raw === 25, 'the next segment to load')

    const shown = await status(started)
    assert.is(shown.code, 200, 'degraded, not ko: the instance still takes writes')
    assert.is(shown.global_status, 'degraded')
    assert.is(shown.writes.quarantined, 1)
    assert.match(
      shown.writes.error ?? '',
      /1 load\(s\) set aside, 40 measures \(dacc quarantine list\); the first: .*no_poison/,
    )
    assert.is((await scrape(started.server.metricsUrl!)).value('dacc_quarantined_loads'), 1)
    assert.is((await scrape(started.server.metricsUrl!)).value('dacc_quarantined_measures'), 40)
    assert.ok((await scrape(started.server.metricsUrl!)).value('dacc_load_failures_total', { class: 'permanent' }) >= 1)
    assert.equal(await stored(started, POISON), { raw: 0, aggregated: 0 }, 'no trace in ClickHouse')
    assert.is(await counted(started, POISON), 40, 'its measures still count in answers')
    const listed = await cli(config, 'list')
    assert.is(listed.code, 0, listed.stderr)
    assert.match(listed.stdout, /segment\s+40\s+1\s+\S+\s+.*no_poison/)
    assert.match(listed.stdout, /1 load set aside, 40 measures/)
    const id = /^(\d{13}-[0-9a-f]{12})\s/m.exec(listed.stdout)![1]
    assert.ok(fs.existsSync(path.join(config.ingest.journalDir, 'quarantine', id, 'segment.tsv')), 'kept on disk')

    // A restart changes none of it, and the poisoned request's retry is still known.
    await started.server.close()
    started = await start(config, started.token)
    assert.is((await status(started)).writes.quarantined, 1)
    assert.is(await counted(started, POISON), 40, 'counted once after a restart')
    assert.is((await post(started, '/measures', measures(POISON, 40), 'poisoned-batch')).status, 201)
    assert.is(await counted(started, POISON), 40, 'its retry is recognised')

    // Retried while the cause is still there: still refused, still kept.
    const refused = await cli(config, 'retry', id)
    assert.is(refused.code, 1)
    assert.match(refused.stdout, new RegExp(`^Still refused ${id}: .*no_poison`, 'm'))
    assert.match(refused.stderr, /^Error: 1 load still refused, kept set aside\n$/)

    // The fix, then the retry: loaded once, in raw_measures and in aggregates, and in answers.
    await started.server.deps.clickhouse.client.command({ query: 'ALTER TABLE raw_measures DROP CONSTRAINT no_poison' })
    const retried = await cli(config, 'retry', '--all')
    assert.is(retried.code, 0, retried.stderr)
    assert.is(retried.stdout, `Loaded ${id}: 40 measures\n`)
    assert.equal(await stored(started, POISON), { raw: 40, aggregated: 40 })
    assert.is(await counted(started, POISON), 40)
    assert.equal((await status(started)).writes, { status: 'ok', backlog: 0 })
    assert.is((await scrape(started.server.metricsUrl!)).value('dacc_quarantined_loads'), 0)
    assert.is((await cli(config, 'list')).stdout, 'Nothing is set aside.\n')

    // Another one, discarded: explicit confirmation, one log line, gone from answers and ClickHouse.
    await started.server.deps.clickhouse.client.command({ query: CONSTRAINT })
    assert.is((await post(started, '/measures', measures(POISON, 7, 3))).status, 201)
    await until(async () => (await status(started)).writes.status === 'degraded', 'the second to be set aside')
    assert.is(await counted(started, POISON), 47)
    const second = /^(\d{13}-[0-9a-f]{12})\s/m.exec((await cli(config, 'list')).stdout)![1]
    const unconfirmed = await cli(config, 'discard', second)
    assert.is(unconfirmed.code, 1)
    assert.match(
      unconfirmed.stderr,
      /^Error: discarding \S+ deletes the acknowledged measures it holds for good: add --yes to confirm/,
    )
    const discarded = await cli(config, 'discard', second, '--yes')
    assert.is(discarded.code, 0, discarded.stderr)
    assert.is(discarded.stdout, `Discarded ${second}: 7 measures (${POISON}: 7)\n`)
    const logged = started.lines.filter((line) => line.msg === 'discarded a set-aside load for good')
    assert.equal(
      logged.map(({ id, rows, measures }) => ({ id, rows, measures })),
      [{ id: second, rows: 7, measures: { [POISON]: 7 } }],
    )
    assert.is(await counted(started, POISON), 40)
    assert.equal(await stored(started, POISON), { raw: 40, aggregated: 40 })
    assert.not.ok(fs.existsSync(path.join(config.ingest.journalDir, 'quarantine', second)))
  } finally {
    await started.server.close()
  }
})

test('without a running server, the list is read from the quarantine directory; retries need the server', async () => {
  const config = testConfig()
  const listed = await cli(config, 'list')
  assert.equal([listed.code, listed.stdout], [0, 'Nothing is set aside.\n'])
  const retry = await cli(config, 'retry', '--all')
  assert.is(retry.code, 1)
  assert.match(retry.stderr, /^Error: no dacc serve runs on \S+: start it, quarantineRetry runs in it\n$/)
  const none = await cli(config, 'retry')
  assert.match(none.stderr, /^Error: name the loads to retry \(dacc quarantine list\), or --all\n$/)
})

function writeDefinitions(definitions: unknown[]): string {
  const file = path.join(fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'dacc-defs-')), 'definitions.json')
  fs.writeFileSync(file, JSON.stringify({ definitions }))
  return file
}

test.run()
