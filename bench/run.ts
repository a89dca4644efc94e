// npm run bench [-- --quick] [-- --only writes,reads,scale]: the service under load on 127.0.0.1,
// `dacc serve` with its default settings (request log lines included), every scenario bounded in
// time. Prints tables, writes bench/results.json.
//   writes  single measures at 10, 50 and 500 connections, batches of 1,000: sustained rates (a run
//           ends when its backlog is loaded into ClickHouse), next to a bare Koa route; a loss check
//   reads   /aggregate on the original's data (1 M raw, 90 buckets; a quartile measure of 200,000),
//           a different question every request, producers writing into the same month meanwhile
//   scale   the same questions over 10 M raw, and the memory kept for 100,000 buckets; then, on
//           fresh servers with the default aggregate.cacheMb, the RSS after reading every bucket
//           of the 10 M-raw measure of 100,000 buckets, and of the 2 M-value quartile measure
//           (`--scale 0.01` shrinks its sizes, to check it quickly; --quick is 0.1)
//   metrics what the metrics cost: single measures at 50 connections on two servers alike but for
//           their metrics listener (one on and scraped every second, one off), in alternate rounds
//   sql     what data engineers' queries cost: writes and reads with 0, 1, 2 heavy ones running (bench/sql.ts)
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { createDefinitions } from '../src/definitions/definitions.ts'
import { createMetrics } from '../src/metrics/metrics.ts'
import { ROOT } from '../src/root.ts'
import { openStore } from '../src/store/store.ts'
import { createTokens } from '../src/tokens/tokens.ts'
import { freePort } from '../test/helpers/ports.ts'
import { sqlCost } from './sql.ts'

const quick = process.argv.includes('--quick')
const only = process.argv.includes('--only')
  ? process.argv[process.argv.indexOf('--only') + 1].split(',')
  : ['writes', 'reads', 'scale', 'metrics', 'sql']
const DURATION_S = quick ? 3 : 10
/** The scale phase's sizes, as a fraction of 10 M raw measures. */
const SCALE = process.argv.includes('--scale')
  ? Number(process.argv[process.argv.indexOf('--scale') + 1])
  : quick
    ? 0.1
    : 1
/** Where this runs from (dist/bench/ once built), and the package root. */
const HERE = path.dirname(fileURLToPath(import.meta.url))

/** Measured side by side with the original service (Flask + PostgreSQL) on this machine kind (issues 11 and 12). */
const ORIGINAL: Record<string, string> = {
  'measure c=10': '547–629 req/s, p50 15–18 ms',
  'measure c=50': '560–610 req/s',
  'aggregate c=1': '164–166 req/s, p50 5.4 ms',
  'aggregate c=10': '302–347 req/s, p50 27–32 ms',
  'aggregate quartiles c=10': '317–356 req/s',
}

type Row = {
  scenario: string
  connections: number
  reqPerSec: number
  p50: number
  p99: number
  ok: number
  sent: number
  errors: number
  sustained?: number
  note?: string
}
const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  quick,
  durationSeconds: DURATION_S,
  cpus: os.cpus().length,
}
const rows: Row[] = []

// ---- processes ---------------------------------------------------------------------------------

type Server = { url: string; pid: number; stop(): Promise<void>; metricsUrl?: string }

function start(args: string[], env: Record<string, string> = {}): Promise<Server> {
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let out: string | null = ''
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      if (out === null) return // request log lines: read and dropped
      out += chunk
      const port = /"port":(\d+)/.exec(out)?.[1]
      if (!port) return
      out = null
      const exited = new Promise((done) => child.once('exit', done))
      resolve({
        url: `http://127.0.0.1:${port}`,
        pid: child.pid!,
        stop: async () => {
          child.kill('SIGTERM')
          await exited
        },
      })
    })
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)))
  })
}

/**
 * `dacc serve` as users start it (`npm start`, `npx dacc serve`: with the Node flags of its command
 * line), its metrics listener on a free port, or off.
 */
async function serve(
  dataDir: string,
  { metrics = true, env = {} }: { metrics?: boolean; env?: Record<string, string> } = {},
): Promise<Server> {
  const metricsPort = metrics ? await freePort() : 0
  const server = await start(['--max-semi-space-size=32', path.join(ROOT, 'bin/dacc.js'), 'serve'], {
    DACC_DATA_DIR: dataDir,
    DACC_PORT: '0',
    DACC_METRICS_PORT: String(metricsPort),
    DACC_CONFIG: '',
    ...env,
  })
  return { ...server, metricsUrl: metrics ? `http://127.0.0.1:${metricsPort}/metrics` : undefined }
}

/** Resident memory of a process now (VmRSS) and at its peak (VmHWM), in MB. */
function memoryMb(pid: number): { rss: number; peak: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1])
  return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) }
}

/** CPU time a process has used so far (user + system), in ms: /proc/<pid>/stat, in clock ticks of 10 ms. */
function cpuMs(pid: number): number {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/** A data directory with these definitions and a token (SQLite only; the server migrates ClickHouse). */
async function prepare(definitions: object[]): Promise<{ dataDir: string; token: string }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dacc-bench-'))
  const store = openStore(dataDir)
  const token = await createTokens(store, '').create('bench')
  const file = path.join(dataDir, 'definitions.json')
  fs.writeFileSync(file, JSON.stringify({ definitions }))
  createDefinitions(store).insertFile(file)
  store.close()
  return { dataDir, token }
}

async function seed(
  dataDir: string,
  measure: string,
  count: number,
  days: number,
  groups: number,
  quartiles = false,
): Promise<void> {
  console.error(`seeding ${count.toLocaleString()} raw measures of ${measure} (${days} days × ${groups} groups)...`)
  const args = [
    path.join(HERE, 'seed.js'),
    dataDir,
    measure,
    String(count),
    String(days),
    String(groups),
    quartiles ? 'quartiles' : '',
  ]
  const seeding = spawn(process.execPath, args, { cwd: ROOT, stdio: 'inherit' })
  if ((await new Promise((resolve) => seeding.on('exit', resolve))) !== 0) throw new Error('seeding failed')
}

// ---- load --------------------------------------------------------------------------------------

type Load = {
  url: string
  connections: number
  token?: string
  body?: string
  bodies?: () => string
  duration?: number
}

async function load(
  scenario: string,
  { url, connections, token, body, bodies, duration = DURATION_S }: Load,
  note?: string,
): Promise<Row> {
  const result = await autocannon({
    url,
    connections,
    duration,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    ...(bodies ? { requests: [{ setupRequest: (request: object) => ({ ...request, body: bodies() }) }] } : { body }),
  })
  const row: Row = {
    scenario,
    connections,
    reqPerSec: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok: result['2xx'],
    sent: result.requests.sent,
    errors: result.non2xx + result.errors + result.timeouts,
    note,
  }
  rows.push(row)
  return row
}

const post = (url: string, route: string, token: string, body: unknown) =>
  fetch(url + route, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  })

/** Milliseconds until every acknowledged measure is loaded into ClickHouse (the write path's backlog is 0). */
async function drain(url: string): Promise<number> {
  const started = performance.now()
  for (;;) {
    const status = (await (await fetch(`${url}/status`)).json()) as { writes: { backlog?: number } }
    if (status.writes.backlog === 0) return performance.now() - started
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

const countOf = async (url: string, token: string, measureName: string) =>
  (
    (await (
      await post(url, '/aggregate', token, { measureName, startDate: '2022-01-01', endDate: '2022-01-02' })
    ).json()) as { count: number }[]
  ).reduce((total, row) => total + row.count, 0)

// ---- scenarios ---------------------------------------------------------------------------------

async function writes(): Promise<void> {
  const single = 'bench-measure'
  const batched = 'bench-batch'
  const { dataDir, token } = await prepare([
    { name: single, group1Key: 'device', aggregationThreshold: 1, accessApp: true },
    { name: batched, group1Key: 'device', aggregationThreshold: 1, accessApp: true },
  ])
  const baseline = await start([path.join(HERE, 'koa-baseline.js')])
  const server = await serve(dataDir)
  const measure = JSON.stringify({
    measureName: single,
    value: 3,
    startDate: '2022-01-01',
    createdBy: 'bench',
    group1: { device: 'desktop' },
  })
  const sustained = async (row: Row, perRequest: number) => {
    const drained = await drain(server.url)
    // Over the run's whole duration: a run with 503s (a full backlog) answers those fast, which
    // reqPerSec counts.
    row.sustained = Math.round((row.ok * perRequest) / (DURATION_S + drained / 1000))
    row.note = `${row.note ? `${row.note}; ` : ''}backlog loaded ${Math.round(drained)} ms after the run`
  }
  const written: Row[] = []
  for (const connections of [10, 50, 500]) {
    const base =
      connections === 10
        ? undefined
        : await load('koa-baseline', { url: `${baseline.url}/`, connections, body: measure })
    const row = await load('measure', { url: `${server.url}/measure`, connections, token, body: measure })
    const notes = [
      base && `${Math.round((row.reqPerSec / base.reqPerSec) * 100) / 100} × the bare Koa route`,
      ORIGINAL[`measure c=${connections}`] && `original: ${ORIGINAL[`measure c=${connections}`]}`,
    ]
    row.note = notes.filter(Boolean).join('; ')
    await sustained(row, 1)
    written.push(row)
  }
  const batch = JSON.stringify(
    Array.from({ length: 1000 }, (_, i) => ({
      measureName: batched,
      value: i % 100,
      startDate: '2022-01-01',
      createdBy: 'bench',
      group1: { device: `d${i % 10}` },
    })),
  )
  const batchRow = await load('measures, 1,000 per request', {
    url: `${server.url}/measures`,
    connections: 16,
    token,
    body: batch,
  })
  await sustained(batchRow, 1000)
  const checks = {
    measure: lossCheck(written, 1, await countOf(server.url, token, single)),
    'measures-batch': lossCheck([batchRow], 1000, await countOf(server.url, token, batched)),
  }
  results.writes = { peakRssMb: memoryMb(server.pid).peak, lossChecks: checks }
  await server.stop()
  await baseline.stop()
  fs.rmSync(dataDir, { recursive: true, force: true })
}

/** autocannon stops at its deadline without reading the answers in flight: acknowledged <= counted <= sent. */
function lossCheck(written: Row[], perRequest: number, counted: number) {
  const acknowledged = written.reduce((total, row) => total + row.ok, 0) * perRequest
  const sent = written.reduce((total, row) => total + row.sent, 0) * perRequest
  return { acknowledged, counted, sent, ok: acknowledged <= counted && counted <= sent }
}

const PLAIN = 'connection-count-daily'
const QUARTILES = 'connection-count-quartiles'
const readDefinitions = [
  { name: PLAIN, group1Key: 'device', aggregationPeriod: 'day', aggregationThreshold: 5, accessApp: true },
  {
    name: QUARTILES,
    group1Key: 'device',
    aggregationPeriod: 'day',
    aggregationThreshold: 5,
    accessApp: true,
    withQuartiles: true,
  },
]

/** A different question every call: the whole month of data, asked with rotating bounds (900 ranges). */
function rotating(measureName: string, extra: Record<string, string> = {}): () => string {
  let index = 0
  const day = (offset: number) => new Date(Date.UTC(2022, 0, 1 + offset)).toISOString().slice(0, 10)
  return () => {
    index++
    return JSON.stringify({
      measureName,
      startDate: day(-(index % 30)),
      endDate: day(30 + (Math.floor(index / 30) % 30)),
      ...extra,
    })
  }
}

/** Producers writing into the month being read, `perSecond` single measures a second into each measure. */
function produce(url: string, token: string, perSecond: number): { stop(): Promise<number> } {
  let written = 0
  const timer = setInterval(() => {
    for (const measureName of [PLAIN, QUARTILES]) {
      post(url, '/measure', token, {
        measureName,
        value: written % 1000,
        startDate: `2022-01-${String(1 + (written % 30)).padStart(2, '0')}`,
        group1: { device: `device-${written % 3}` },
      }).then(
        (response) => response.status === 201 && written++,
        () => undefined,
      )
    }
  }, 1000 / perSecond)
  return {
    stop: async () => {
      clearInterval(timer)
      return written
    },
  }
}

async function readScenarios(label: string, dataDir: string, token: string): Promise<void> {
  const server = await serve(dataDir)
  const rowsOf = async (body: string) =>
    ((await (await post(server.url, '/aggregate', token, JSON.parse(body))).json()) as unknown[]).length
  results[`${label}AnswerRows`] = {
    plain: await rowsOf(rotating(PLAIN)()),
    quartiles: await rowsOf(rotating(QUARTILES)()),
  }
  const producers = produce(server.url, token, 100)
  for (const [name, measure] of [
    ['aggregate', PLAIN],
    ['aggregate quartiles', QUARTILES],
  ] as const) {
    for (const connections of [1, 10]) {
      if (label === 'scale' && connections === 1) continue
      await load(
        `${name} ${label}`,
        { url: `${server.url}/aggregate`, connections, token, bodies: rotating(measure) },
        ORIGINAL[`${name} c=${connections}`] ? `original: ${ORIGINAL[`${name} c=${connections}`]}` : undefined,
      )
    }
  }
  if (label === 'reads') {
    await load('aggregate period=month', {
      url: `${server.url}/aggregate`,
      connections: 10,
      token,
      bodies: rotating(PLAIN, { period: 'month' }),
    })
    await load('aggregate wildcard=group1', {
      url: `${server.url}/aggregate`,
      connections: 10,
      token,
      bodies: rotating(PLAIN, { wildcard: 'group1' }),
    })
    await load('aggregate quartiles period=month', {
      url: `${server.url}/aggregate`,
      connections: 10,
      token,
      bodies: rotating(QUARTILES, { period: 'month' }),
    })
  }
  results[`${label}Producers`] = { perSecondEachMeasure: 100, written: await producers.stop() }
  if (label === 'scale') {
    // Every bucket of a 100,000-bucket measure read once: what the cache then keeps.
    const started = performance.now()
    const wide = await rowsOf(
      JSON.stringify({ measureName: 'bench-wide', startDate: '2022-01-01', endDate: '2023-01-01' }),
    )
    results.wide = {
      buckets: wide,
      firstReadMs: Math.round(performance.now() - started),
      memoryMb: memoryMb(server.pid),
    }
  }
  results[`${label}MemoryMb`] = memoryMb(server.pid)
  await server.stop()
}

async function reads(): Promise<void> {
  const { dataDir, token } = await prepare(readDefinitions)
  await seed(dataDir, PLAIN, quick ? 100_000 : 1_000_000, 30, 3)
  await seed(dataDir, QUARTILES, quick ? 20_000 : 200_000, 30, 3, true)
  await readScenarios('reads', dataDir, token)
  fs.rmSync(dataDir, { recursive: true, force: true })
}

async function scale(): Promise<void> {
  const { dataDir, token } = await prepare([
    ...readDefinitions,
    { name: 'bench-wide', group1Key: 'device', aggregationThreshold: 5, accessApp: true },
  ])
  const sizes = { [PLAIN]: 10_000_000, [QUARTILES]: 2_000_000, 'bench-wide': 10_000_000 }
  const scaled = (name: keyof typeof sizes) => Math.round(sizes[name] * SCALE)
  await seed(dataDir, PLAIN, scaled(PLAIN), 30, 3)
  await seed(dataDir, QUARTILES, scaled(QUARTILES), 30, 3, true)
  await seed(dataDir, 'bench-wide', scaled('bench-wide'), 100, 1000)
  await readScenarios('scale', dataDir, token)
  results.memoryAfterReadingEveryBucket = [
    await readEveryBucket(dataDir, token, 'bench-wide', scaled('bench-wide')),
    await readEveryBucket(dataDir, token, QUARTILES, scaled(QUARTILES)),
  ]
  fs.rmSync(dataDir, { recursive: true, force: true })
}

/**
 * A fresh server (RSS only grows) with the default aggregate.cacheMb answers every bucket of
 * `measure` in one request: its RSS before and after, its peak, and what its read cache accounts
 * for (dacc_aggregate_cache_bytes).
 */
async function readEveryBucket(dataDir: string, token: string, measure: string, raw: number) {
  const server = await serve(dataDir)
  try {
    const before = memoryMb(server.pid).rss
    const started = performance.now()
    const response = await post(server.url, '/aggregate', token, {
      measureName: measure,
      startDate: '2022-01-01',
      endDate: '2023-01-01',
    })
    const answerRows = ((await response.json()) as unknown[]).length
    const readMs = Math.round(performance.now() - started)
    const metrics = await (await fetch(server.metricsUrl!)).text()
    const cacheBytes = Number(/^dacc_aggregate_cache_bytes (\S+)$/m.exec(metrics)?.[1])
    return {
      measure,
      rawMeasures: raw,
      answerRows,
      readMs,
      rssBeforeMb: before,
      ...memoryMb(server.pid),
      cacheAccountedMb: Math.round((cacheBytes / 2 ** 20) * 10) / 10,
    }
  } finally {
    await server.stop()
  }
}

/**
 * POST /measure at 50 connections, on a server with its metrics listener on (scraped every second,
 * 15 times as often as Prometheus by default) and one with it off (metrics.port 0; both count,
 * which costs ≈ 0.5 µs a request), in rounds that alternate which goes first. Beside the rates,
 * the server's CPU time per request: on a shared machine it varies less.
 */
/**
 * What counting costs a POST /measure of one measure (its request, its measure, its group's
 * append; a group serves several requests under load, so this is an upper bound), timed in this
 * process over a million requests: both servers above count, and the machine's noise is larger
 * than this, so it is measured apart. In nanoseconds.
 */
function countingCost(): number {
  const { http, writes } = createMetrics({ backlog: () => 0, backlogLimit: 1, cacheBytes: () => 0 })
  const requests = 1_000_000
  const started = performance.now()
  for (let i = 0; i < requests; i++) {
    http.observe('POST', '/measure', 201, 0.001 + (i % 7) / 1000)
    writes.accepted.inc({ measure: 'bench-metrics' }, 1)
    writes.appendSeconds.observe(0.0004)
  }
  return Math.round(((performance.now() - started) * 1e6) / requests)
}

async function metricsCost(): Promise<void> {
  const definitions = [{ name: 'bench-metrics', group1Key: 'device', aggregationThreshold: 1, accessApp: true }]
  const body = JSON.stringify({
    measureName: 'bench-metrics',
    value: 3,
    startDate: '2022-01-01',
    createdBy: 'bench',
    group1: { device: 'desktop' },
  })
  const runs = []
  for (const metrics of [true, false]) {
    const { dataDir, token } = await prepare(definitions)
    runs.push({
      dataDir,
      token,
      server: await serve(dataDir, { metrics }),
      rates: [] as number[],
      cpuUsPerRequest: [] as number[],
    })
  }
  // Unrecorded: a server's first seconds (JIT, a new engine) are slower than the rest. Each run
  // ends with its backlog loaded, so that no server's loads run during the other's measure.
  for (const run of runs) {
    await autocannon({
      url: `${run.server.url}/measure`,
      connections: 50,
      duration: 3,
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${run.token}` },
      body,
    })
    await drain(run.server.url)
  }
  const rounds = quick ? 2 : 3
  for (let round = 0; round < rounds; round++) {
    for (const run of round % 2 === 0 ? runs : [...runs].reverse()) {
      const { metricsUrl } = run.server
      const scraper = metricsUrl
        ? setInterval(
            () =>
              fetch(metricsUrl).then(
                (response) => response.text(),
                () => undefined,
              ),
            1000,
          )
        : undefined
      const cpuBefore = cpuMs(run.server.pid)
      const row = await load(`measure, metrics ${metricsUrl ? 'on, scraped every second' : 'off'}`, {
        url: `${run.server.url}/measure`,
        connections: 50,
        token: run.token,
        body,
      })
      clearInterval(scraper)
      run.rates.push(row.reqPerSec)
      run.cpuUsPerRequest.push(Math.round(((cpuMs(run.server.pid) - cpuBefore) * 1000) / row.ok))
      await drain(run.server.url)
    }
  }
  const [on, off] = runs
  const ratios = on.rates.map((rate, round) => Math.round((rate / off.rates[round]) * 1000) / 1000)
  const countingNs = countingCost()
  results.metrics = {
    onReqPerSec: on.rates,
    offReqPerSec: off.rates,
    ratioPerRound: ratios,
    ratioOfMeans: Math.round((sum(on.rates) / sum(off.rates)) * 1000) / 1000,
    onCpuUsPerRequest: on.cpuUsPerRequest,
    offCpuUsPerRequest: off.cpuUsPerRequest,
    countingNsPerRequest: countingNs,
    countingShareOfCpu:
      Math.round((countingNs / 1000 / (sum(off.cpuUsPerRequest) / off.cpuUsPerRequest.length)) * 1e4) / 1e4,
  }
  for (const run of runs) {
    await run.server.stop()
    fs.rmSync(run.dataDir, { recursive: true, force: true })
  }
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0)

const phases: Record<string, () => Promise<void>> = {
  writes,
  reads,
  scale,
  metrics: metricsCost,
  sql: () => sqlCost({ serve, prepare, load, drain, results, durationS: DURATION_S }),
}
for (const phase of only) await phases[phase]()
console.table(rows.map(({ note, ...row }) => ({ ...row, sustained: row.sustained ?? '', note: note ?? '' })))
for (const [key, value] of Object.entries(results))
  if (typeof value === 'object') console.log(key, JSON.stringify(value))
fs.writeFileSync(path.join(ROOT, 'bench/results.json'), `${JSON.stringify({ ...results, rows }, null, 2)}\n`)
const checks = (results.writes as { lossChecks?: Record<string, { ok: boolean }> } | undefined)?.lossChecks ?? {}
if (Object.values(checks).some((check) => !check.ok)) process.exitCode = 1
