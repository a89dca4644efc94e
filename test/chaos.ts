// The crash loop: `dacc serve` under concurrent producers, SIGKILLed at random instants, round
// after round. Keyed producers send single measures and batches of several pages (each its own
// Idempotency-Key) and retry every request that got no 201 (same key) until it does; an unkeyed
// producer sends batches and never retries. After some kills the journal's last segment gets a
// torn append (rows without their frame's end, as a kill mid-write leaves them), and with
// `afterKill` the caller can cut power too (the LazyFS suite: test/measures/powercut.test.ts).
// Checked: after every restart, acknowledged <= counted by /aggregate <= sent; at the end, every
// key counted exactly once, in raw_measures and in aggregates, no row of a torn append anywhere,
// and raw and aggregates agree for the unkeyed measure.
// `npm run chaos [-- --rounds N --seconds S]` runs it long; test/measures/chaos.test.ts briefly.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { openClickHouse } from '../src/clickhouse/client.ts'
import { loadConfig } from '../src/config.ts'
import { journalLine, receivedAtOf } from '../src/measures/rows.ts'
import { freePort } from './helpers/ports.ts'
import { postStatus, preparedDataDir, serveProcess, type ServeProcess } from './helpers/server.ts'
import { prng } from './helpers/random.ts'

export type ChaosOptions = {
  rounds: number
  seconds: number
  producers: number
  seed: number
  /** The data directory to run in (prepared with `preparedDataDir(chaosDefinitions, dir)`); a new one by default. */
  prepared?: { dataDir: string; token: string }
  /** Run after each kill, before the restart: a power cut, say. */
  afterKill?: (round: number) => Promise<void>
  /** Environment of every server started. */
  env?: Record<string, string>
  log?: (line: string) => void
}
export type ChaosResult = {
  keys: number
  keyedMeasures: number
  retries: number
  kills: number
  torn: number
  unkeyed: { acknowledged: number; counted: number; sent: number }
  failures: string[]
}

const KEYED = 'chaos-keyed'
const UNKEYED = 'chaos-unkeyed'
const BATCH = 50
/** Measures of a keyed batch: its rows span several 4 KiB pages of the journal. */
const KEYED_BATCH = 120
const DATE = '2022-01-01'
/** The key (as the journal stores it) of the rows of torn appends: never acknowledged, never to count. */
const TORN_KEY = 'torn-append'

export const chaosDefinitions = [
  { name: KEYED, aggregationThreshold: 1, accessApp: true },
  { name: UNKEYED, aggregationThreshold: 1, accessApp: true },
]

export async function runChaos({
  rounds,
  seconds,
  producers,
  seed,
  prepared,
  afterKill,
  env = {},
  log = () => {},
}: ChaosOptions): Promise<ChaosResult> {
  const random = prng(seed)
  const { dataDir, token } = prepared ?? (await preparedDataDir(chaosDefinitions))
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const failures: string[] = []
  /** Every key sent, with the number of measures of its request. */
  const sizes = new Map<string, number>()
  const acknowledged = new Set<string>()
  const unanswered = new Set<string>()
  let nextKey = 0
  let retries = 0
  let torn = 0
  const unkeyed = { acknowledged: 0, sent: 0 }
  const sum = (keys: Iterable<string>) => [...keys].reduce((total, key) => total + sizes.get(key)!, 0)

  const post = (route: string, body: unknown, key?: string) => postStatus(url + route, token, body, key, 3000)
  const counted = async (measureName: string) => {
    const response = await fetch(`${url}/aggregate?measureName=${measureName}&startDate=${DATE}&endDate=2022-01-02`, {
      headers: { Authorization: `Bearer ${token}` },
    })
    return ((await response.json()) as { count: number }[]).reduce((total, row) => total + row.count, 0)
  }
  /** acknowledged <= counted <= sent, each read in that order, so that producers may go on meanwhile. */
  const check = async (when: string) => {
    const keyedBefore = sum(acknowledged)
    const unkeyedBefore = unkeyed.acknowledged
    const [keyedCount, unkeyedCount] = [await counted(KEYED), await counted(UNKEYED)]
    const keyedSent = sum(sizes.keys())
    if (!(keyedBefore <= keyedCount && keyedCount <= keyedSent))
      failures.push(`${when}: keyed ${keyedBefore} acknowledged, ${keyedCount} counted, ${keyedSent} sent`)
    if (!(unkeyedBefore <= unkeyedCount && unkeyedCount <= unkeyed.sent))
      failures.push(`${when}: unkeyed ${unkeyedBefore} acknowledged, ${unkeyedCount} counted, ${unkeyed.sent} sent`)
    return unkeyedCount
  }

  /** A keyed request: a single measure, or (one in three) a batch of several pages. */
  const send = (key: string) => {
    const size = sizes.get(key)!
    return size === 1
      ? post('/measure', { measureName: KEYED, value: 1, startDate: DATE }, key)
      : post(
          '/measures',
          Array.from({ length: size }, () => ({ measureName: KEYED, value: 1, startDate: DATE })),
          key,
        )
  }
  let producing = false
  const keyedProducer = async () => {
    while (producing) {
      const retry = [...unanswered].find(() => true)
      const key = retry ?? `key-${nextKey++}`
      if (retry) {
        unanswered.delete(key)
        retries++
      } else sizes.set(key, random() < 1 / 3 ? KEYED_BATCH : 1)
      const status = await send(key)
      if (status === 201) acknowledged.add(key)
      else {
        unanswered.add(key)
        await sleep(20) // the server is down or busy
      }
    }
  }
  const unkeyedProducer = async () => {
    while (producing) {
      unkeyed.sent += BATCH
      const status = await post(
        '/measures',
        Array.from({ length: BATCH }, () => ({ measureName: UNKEYED, value: 1, startDate: DATE })),
      )
      if (status === 201) unkeyed.acknowledged += BATCH
      else await sleep(20)
    }
  }

  const start = async (): Promise<ServeProcess> => {
    const server = serveProcess(dataDir, { DACC_PORT: String(port), ...env })
    await server.url
    return server
  }
  let kills = 0
  for (let round = 1; round <= rounds; round++) {
    const server = await start()
    await check(`after restart ${round}`)
    producing = true
    const running = [...Array.from({ length: producers }, keyedProducer), unkeyedProducer()]
    await sleep(200 + random() * seconds * 1000)
    server.child.kill('SIGKILL')
    await server.exited
    kills++
    producing = false
    await Promise.all(running)
    if (random() < 0.5 && tearAppend(path.join(dataDir, 'journal'), random)) torn++
    await afterKill?.(round)
    log(
      `round ${round}: ${acknowledged.size} keys acknowledged, ${unanswered.size} unanswered, ${unkeyed.acknowledged} unkeyed acknowledged, ${torn} torn appends`,
    )
  }

  // Every unanswered request retried until acknowledged, then the counts, exactly.
  const server = await start()
  for (const key of unanswered) {
    for (let status = 0; status !== 201; ) status = await send(key)
    acknowledged.add(key)
    retries++
  }
  const keyedMeasures = sum(sizes.keys())
  const keyedCount = await counted(KEYED)
  if (keyedCount !== keyedMeasures || acknowledged.size !== nextKey)
    failures.push(
      `end: ${nextKey} keys sent and acknowledged (${acknowledged.size}), ${keyedMeasures} measures, ${keyedCount} counted by /aggregate`,
    )
  const unkeyedCount = await check('end')
  server.child.kill('SIGTERM')
  if ((await server.exited) !== 0) failures.push('the last server did not stop cleanly')

  const clickhouse = await openClickHouse(loadConfig({ env: {}, overrides: { dataDir } }))
  try {
    const rows = async (query: string) =>
      (await clickhouse.client.query({ query, format: 'JSONEachRow' })).json<Record<string, number>>()
    const [keyed] = await rows(
      `SELECT count() AS raw, uniqExact(idempotency_key) AS keys, countIf(idempotency_key = '${TORN_KEY}') AS torn,
              (SELECT sum(count) FROM aggregates WHERE measure_name = '${KEYED}') AS aggregated
       FROM raw_measures WHERE measure_name = '${KEYED}'`,
    )
    if (keyed.raw !== keyedMeasures || keyed.keys !== nextKey || keyed.aggregated !== keyedMeasures || keyed.torn > 0)
      failures.push(
        `end: ${nextKey} keys of ${keyedMeasures} measures; raw_measures ${keyed.raw} rows of ${keyed.keys} keys (${keyed.torn} of torn appends), aggregates ${keyed.aggregated}`,
      )
    const [plain] = await rows(
      `SELECT count() AS raw, (SELECT sum(count) FROM aggregates WHERE measure_name = '${UNKEYED}') AS aggregated FROM raw_measures WHERE measure_name = '${UNKEYED}'`,
    )
    if (plain.raw !== plain.aggregated || plain.raw !== unkeyedCount)
      failures.push(`end: unkeyed raw ${plain.raw}, aggregated ${plain.aggregated}, counted ${unkeyedCount}`)
  } finally {
    await clickhouse.close()
  }
  return {
    keys: nextKey,
    keyedMeasures,
    retries,
    kills,
    torn,
    unkeyed: { acknowledged: unkeyed.acknowledged, counted: unkeyedCount, sent: unkeyed.sent },
    failures,
  }
}

/**
 * Appends to the newest journal segment what a kill in the middle of an append leaves: rows of a
 * request, cut at a random byte, without the end of their frame. They were never acknowledged.
 */
function tearAppend(journal: string, random: () => number): boolean {
  const newest = fs
    .readdirSync(journal)
    .filter((file) => file.endsWith('.tsv'))
    .sort()
    .at(-1)
  if (!newest) return false
  const rows = Array.from({ length: 40 }, () =>
    journalLine(
      {
        measureName: KEYED,
        startDate: `${DATE} 00:00:00`,
        createdBy: '',
        group1: '',
        group2: '',
        group3: '',
        value: 1,
        withQuartiles: false,
        contributor: '',
      },
      receivedAtOf(Date.now()),
      TORN_KEY,
    ),
  ).join('')
  fs.appendFileSync(path.join(journal, newest), rows.slice(0, 1 + Math.floor(random() * (rows.length - 1))))
  return true
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const option = (name: string, fallback: number) =>
    process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : fallback
  const result = await runChaos({
    rounds: option('--rounds', 20),
    seconds: option('--seconds', 3),
    producers: option('--producers', 8),
    seed: option('--seed', Date.now()),
    log: console.log,
  })
  console.log(JSON.stringify(result))
  if (result.failures.length > 0) process.exitCode = 1
}
