import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createMetrics } from '../../src/metrics/metrics.ts'
import { scheduleRetention } from '../../src/purge/retention.ts'
import { aggregateAnswers, DAY_MS, insertReceived } from '../helpers/answers.ts'
import { capturingLogger, startTestServer } from '../helpers/server.ts'

const test = suite('retention')
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

test('purges at start and then on schedule, one run at a time; a failure is logged and the next run retries; stop waits', async () => {
  const { logger, lines } = capturingLogger()
  const metrics = createMetrics({ backlog: () => 0, backlogLimit: 1, cacheBytes: () => 0 })
  // The schedule's ticks and each purge's end are in the test's hands: nothing waits on the clock.
  let tick = () => {}
  let ticking = true
  const runs: { before: number; finish: (error?: Error) => void }[] = []
  const retention = scheduleRetention({
    days: 90,
    intervalMs: 3_600_000,
    logger,
    metrics: metrics.purges,
    every: (fn) => {
      tick = fn
      return () => (ticking = false)
    },
    purge: (before) =>
      new Promise((resolve, reject) => {
        runs.push({
          before: before.getTime(),
          finish: (error) =>
            error
              ? reject(error)
              : resolve([
                  { measureName: 'm', removed: 3 },
                  { measureName: 'n', removed: 0 },
                ]),
        })
      }),
  })
  const settle = () => new Promise((resolve) => setImmediate(resolve))
  assert.is(runs.length, 1, 'the first run starts at once')
  assert.ok(Math.abs(runs[0].before - (Date.now() - 90 * DAY_MS)) < 1000)
  tick()
  assert.is(runs.length, 1, 'a tick while a run is in progress starts none')
  runs[0].finish()
  await settle()
  tick()
  assert.is(runs.length, 2, 'the next tick starts the next run')
  runs[1].finish(new Error('ClickHouse is away'))
  await settle()
  assert.ok(lines.some((line) => line.msg === 'retention purge failed'))
  tick()
  assert.is(runs.length, 3, 'a failed run is retried at the next tick')
  const stopped = retention.stop().then(() => 'stopped')
  assert.not.ok(ticking, 'stop ends the schedule at once')
  assert.is(
    await Promise.race([stopped, settle().then(() => 'waiting')]),
    'waiting',
    'stop waits for the run in progress',
  )
  runs[2].finish()
  assert.is(await stopped, 'stopped')
  assert.equal(
    lines.find((line) => line.msg === 'retention purge'),
    {
      level: 30,
      msg: 'retention purge',
      before: new Date(runs[0].before).toISOString(),
      measures: 2,
      removed: 3,
      byMeasure: { m: 3 },
    },
  )
  const counted = (await metrics.purges.retentionRuns.get()).values.map(({ labels, value }) => [labels.outcome, value])
  assert.equal(counted, [
    ['ok', 2],
    ['failed', 1],
  ])
})

test('dacc serve with retention.rawDays purges old raw measures on schedule; /aggregate answers stay byte-identical', async () => {
  const server = await startTestServer({ retention: { rawDays: 90, intervalMs: 100 } })
  try {
    server.define({
      name: 'kept-stats',
      group1Key: 'device',
      aggregationThreshold: 2,
      accessApp: true,
      withQuartiles: true,
    })
    await insertReceived(server, 'kept-stats', 60, 200)
    await insertReceived(server, 'kept-stats', 30, 100)
    await insertReceived(server, 'kept-stats', 20, 1)
    const before = await aggregateAnswers(server, 'kept-stats')
    const raw = async () =>
      (await server.query<{ n: number }>("SELECT count() AS n FROM raw_measures WHERE measure_name = 'kept-stats'"))[0]
        .n
    for (let waited = 0; (await raw()) !== 20 && waited < 10_000; waited += 100) await sleep(100)
    assert.is(await raw(), 20, 'only the measures received within 90 days are left')
    assert.equal(await aggregateAnswers(server, 'kept-stats'), before)
    assert.ok(
      before.every((answer) => answer.startsWith('200 [{')),
      before[0],
    )
    const [record] = server.deps.definitions.list()
    assert.ok(
      record.lastPurgeAt && Date.now() - Date.parse(record.lastPurgeAt) < 10_000,
      `last purge: ${record.lastPurgeAt}`,
    )
  } finally {
    await server.close()
  }
})

test.run()
