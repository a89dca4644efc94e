// npm run bench [-- --quick]: measures the service against a bare Koa route in the same run, on
// 127.0.0.1 only, every scenario bounded in time. Prints a table, writes bench/results.json.
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import autocannon from 'autocannon'
import { createDefinitions } from '../src/definitions/definitions.ts'
import { openStore } from '../src/store/store.ts'
import { createTokens } from '../src/tokens/tokens.ts'

const quick = process.argv.includes('--quick')
const DURATION_S = quick ? 2 : 10
const SEED_ROWS = quick ? 200_000 : 10_000_000
const HERE = path.dirname(new URL(import.meta.url).pathname)
const ROOT = path.resolve(HERE, '..')
const WRITE = 'bench-write'
const BATCH = 'bench-batch'
const BATCH_SIZE = 1000
const READ = 'bench-read'

type Row = {
  scenario: string
  connections: number
  reqPerSec: number
  measuresPerSec?: number
  p50: number
  p99: number
  ok: number
  sent: number
  errors: number
  ratio?: number
  note?: string
}
const rows: Row[] = []

function child(args: string[], env: Record<string, string> = {}): { process: ChildProcess; ready: Promise<number> } {
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  let out: string | null = ''
  const ready = new Promise<number>((resolve, reject) => {
    proc.stdout!.on('data', (chunk) => {
      if (out === null) return // request log lines: read and dropped
      out += chunk
      const port = /"port":(\d+)/.exec(out)?.[1]
      if (port) {
        out = null
        resolve(Number(port))
      }
    })
    proc.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)))
  })
  return { process: proc, ready }
}

async function stop(proc: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => proc.once('exit', resolve))
  proc.kill('SIGTERM')
  await exited
}

/** Peak resident memory of a process so far (VmHWM), in MB. */
function peakRssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
  return Math.round(Number(/VmHWM:\s+(\d+)/.exec(status)![1]) / 1024)
}

async function load(scenario: string, url: string, connections: number, request: { body: string; token?: string }, note?: string): Promise<Row> {
  const result = await autocannon({
    url,
    connections,
    duration: DURATION_S,
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(request.token ? { authorization: `Bearer ${request.token}` } : {}) },
    body: request.body,
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

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dacc-bench-'))
  const store = openStore(dataDir)
  const token = await createTokens(store, '').create('bench')
  const file = path.join(dataDir, 'definitions.json')
  fs.writeFileSync(
    file,
    JSON.stringify({
      definitions: [
        { name: WRITE, group1Key: 'device', aggregationThreshold: 1, accessApp: true },
        { name: BATCH, group1Key: 'device', aggregationThreshold: 1, accessApp: true },
        { name: READ, group1Key: 'a', group2Key: 'b', aggregationThreshold: 5, accessApp: true },
      ],
    }),
  )
  createDefinitions(store).insertFile(file)
  store.close()

  console.error(`seeding ${SEED_ROWS.toLocaleString()} raw measures (bulk path)...`)
  const seeding = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'seed.ts'), dataDir, READ, String(SEED_ROWS)], { cwd: ROOT, stdio: 'inherit' })
  if ((await new Promise((resolve) => seeding.on('exit', resolve))) !== 0) throw new Error('seeding failed')

  const baseline = child(['--import', 'tsx', path.join(HERE, 'koa-baseline.ts')])
  const baseUrl = `http://127.0.0.1:${await baseline.ready}/`
  // Default settings, request log lines included, as in production.
  const serve = (env: Record<string, string> = {}) =>
    child([path.join(ROOT, 'bin/dacc.js'), 'serve'], { DACC_DATA_DIR: dataDir, DACC_PORT: '0', DACC_CONFIG: '', ...env })
  let server = serve()
  let url = `http://127.0.0.1:${await server.ready}`
  const rss: number[] = []

  const countOf = (measureName: string) =>
    fetch(`${url}/aggregate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ measureName, startDate: '2022-01-01', endDate: '2022-01-02' }),
    })
      .then((response) => response.json() as Promise<{ count: number }[]>)
      .then((answer) => answer.reduce((total, row) => total + row.count, 0))

  // autocannon stops at the deadline without reading the answers still in flight: those measures
  // may be stored though not counted as acknowledged. So: acknowledged <= counted <= sent.
  const lossChecks: Record<string, { acknowledged: number; counted: number; sent: number; ok: boolean }> = {}
  const check = async (scenario: string, measureName: string, written: Row[], perRequest: number) => {
    const acknowledged = written.reduce((total, row) => total + row.ok, 0) * perRequest
    const sent = written.reduce((total, row) => total + row.sent, 0) * perRequest
    const counted = await countOf(measureName)
    lossChecks[scenario] = { acknowledged, counted, sent, ok: acknowledged <= counted && counted <= sent }
  }

  const measure = JSON.stringify({ measureName: WRITE, value: 3, startDate: '2022-01-01', createdBy: 'bench', group1: { device: 'desktop' } })
  const written: Row[] = []
  for (const connections of [50, 500]) {
    const base = await load('koa-baseline', baseUrl, connections, { body: measure })
    const row = await load('measure', `${url}/measure`, connections, { body: measure, token })
    row.ratio = Math.round((row.reqPerSec / base.reqPerSec) * 100) / 100
    written.push(row)
  }
  await check('measure', WRITE, written, 1)

  const batch = JSON.stringify(
    Array.from({ length: BATCH_SIZE }, (_, i) => ({ measureName: BATCH, value: i % 100, startDate: '2022-01-01', createdBy: 'bench', group1: { device: `d${i % 10}` } })),
  )
  const batchRow = await load('measures-batch', `${url}/measures`, 16, { body: batch, token }, `${BATCH_SIZE} per request`)
  batchRow.measuresPerSec = batchRow.reqPerSec * BATCH_SIZE
  await check('measures-batch', BATCH, [batchRow], BATCH_SIZE)

  const read = JSON.stringify({ measureName: READ, startDate: '2022-01-01', endDate: '2022-02-01' })
  await load('aggregate', `${url}/aggregate`, 10, { body: read, token }, `31 days of ${SEED_ROWS.toLocaleString()} raw, cached (maxStalenessMs 1000)`)
  rss.push(peakRssMb(server.process.pid!))
  await stop(server.process)

  server = serve({ DACC_AGGREGATE_MAX_STALENESS_MS: '0' })
  url = `http://127.0.0.1:${await server.ready}`
  await load('aggregate', `${url}/aggregate`, 10, { body: read, token }, `31 days of ${SEED_ROWS.toLocaleString()} raw, uncached (maxStalenessMs 0)`)
  rss.push(peakRssMb(server.process.pid!))
  await stop(server.process)
  await stop(baseline.process)

  const peakRss = Math.max(...rss)
  console.table(rows.map(({ note, ...row }) => ({ ...row, note: note ?? '' })))
  console.log(`server peak RSS: ${peakRss} MB`)
  for (const [scenario, result] of Object.entries(lossChecks)) {
    console.log(`loss check ${scenario}: ${result.acknowledged} acknowledged <= ${result.counted} counted by /aggregate <= ${result.sent} sent: ${result.ok ? 'ok' : 'FAILED'}`)
  }
  fs.writeFileSync(
    path.join(HERE, 'results.json'),
    JSON.stringify({ date: new Date().toISOString(), quick, durationSeconds: DURATION_S, seedRows: SEED_ROWS, cpus: os.cpus().length, rows, peakRssMb: peakRss, lossChecks }, null, 2) + '\n',
  )
  fs.rmSync(dataDir, { recursive: true, force: true })
  if (Object.values(lossChecks).some((result) => !result.ok)) process.exitCode = 1
}

await main()
