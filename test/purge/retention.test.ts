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
  const cutoffs: number[] = []
  let running = 0
  let overlapped = false
  const metrics = createMetrics({ backlog: () => 0, backlogLimit: 1 })
  const retention = scheduleRetention({
    days: 90,
    intervalMs: 20,
    logger,
    metrics: metrics.purges,
    purge: async (before) => {
      overlapped ||= running > 0
      running++
      cutoffs.push(before.getTime())
      await sleep(50) // longer than the interval
      running--
      if (cutoffs.length === 2) throw new Error('ClickHouse is away')
      return [
        { measureName: 'm', removed: 3 },
        { measureName: 'n', removed: 0 },
      ]
    },
  })
  assert.is(cutoffs.length, 1, 'the first run starts at once')
  assert.ok(Math.abs(cutoffs[0] - (Date.now() - 90 * DAY_MS)) < 1000)
  await sleep(250)
  await retention.stop()
  assert.is(running, 0, 'stop waited for the run in progress')
  const runs = cutoffs.length
  assert.ok(runs >= 3, `ran ${runs} times`)
  assert.not.ok(overlapped)
  await sleep(60)
  assert.is(cutoffs.length, runs, 'no run after stop')
  const done = lines.find((line) => line.msg === 'retention purge')!
  assert.equal(done, {
    level: 30,
    msg: 'retention purge',
    before: new Date(cutoffs[0]).toISOString(),
    measures: 2,
    removed: 3,
    byMeasure: { m: 3 },
  })
  assert.ok(lines.some((line) => line.msg === 'retention purge failed'))
  const counted = (await metrics.purges.retentionRuns.get()).values.map(({ labels, value }) => [labels.outcome, value])
  assert.equal(counted, [
    ['ok', runs - 1],
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
