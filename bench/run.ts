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
const READ = 'bench-read'

type Row = { scenario: string; connections: number; reqPerSec: number; p50: number; p99: number; ok: number; sent: number; errors: number; ratio?: number; note?: string }
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
        { name: READ, group1Key: 'a', group2Key: 'b', aggregationThreshold: 5, accessApp: true, withQuartiles: true },
      ],
    }),
  )
  createDefinitions(store).insertFile(file)
  store.close()

  console.error(`seeding ${SEED_ROWS.toLocaleString()} raw measures (bulk path)...`)
  const seeding = spawn(process.execPath, ['--import', 'tsx', path.join(HERE, 'seed.ts'), dataDir, READ, String(SEED_ROWS)], { cwd: ROOT, stdio: 'inherit' })
  await new Promise((resolve) => seeding.on('exit', resolve))

  const baseline = child(['--import', 'tsx', path.join(HERE, 'koa-baseline.ts')])
  const baseUrl = `http://127.0.0.1:${await baseline.ready}/`
  // Default settings, request log lines included, as in production.
  const server = child([path.join(ROOT, 'bin/dacc.js'), 'serve'], { DACC_DATA_DIR: dataDir, DACC_PORT: '0', DACC_CONFIG: '' })
  const url = `http://127.0.0.1:${await server.ready}`

  const measure = JSON.stringify({ measureName: WRITE, value: 3, startDate: '2022-01-01', createdBy: 'bench', group1: { device: 'desktop' } })
  // autocannon stops at the deadline without reading the answers still in flight: those measures
  // may be stored though not counted as acknowledged. So: acknowledged <= counted <= sent.
  let acknowledged = 0
  let sent = 0
  for (const connections of [50, 500]) {
    const base = await load('koa-baseline', baseUrl, connections, { body: measure })
    const row = await load('measure', `${url}/measure`, connections, { body: measure, token })
    row.ratio = Math.round((row.reqPerSec / base.reqPerSec) * 100) / 100
    acknowledged += row.ok
    sent += row.sent
  }

  const counted = await fetch(`${url}/aggregate`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ measureName: WRITE, startDate: '2022-01-01', endDate: '2022-01-02' }),
  })
    .then((response) => response.json() as Promise<{ count: number }[]>)
    .then((answer) => answer.reduce((total, row) => total + row.count, 0))

  const read = JSON.stringify({ measureName: READ, startDate: '2022-01-01', endDate: '2022-02-01' })
  await load('aggregate', `${url}/aggregate`, 10, { body: read, token }, '31 days')

  const rss = peakRssMb(server.process.pid!)
  await stop(server.process)
  await stop(baseline.process)

  const lossCheck = { acknowledged, sent, counted, lost: Math.max(0, acknowledged - counted), overCounted: Math.max(0, counted - sent) }
  console.table(rows.map(({ note, ...row }) => ({ ...row, note: note ?? '' })))
  console.log(`server peak RSS: ${rss} MB; loss check: ${acknowledged} acknowledged <= ${counted} counted by /aggregate <= ${sent} sent`)
  fs.writeFileSync(
    path.join(HERE, 'results.json'),
    JSON.stringify({ date: new Date().toISOString(), quick, durationSeconds: DURATION_S, seedRows: SEED_ROWS, cpus: os.cpus().length, rows, peakRssMb: rss, lossCheck }, null, 2) + '\n',
  )
  fs.rmSync(dataDir, { recursive: true, force: true })
  if (lossCheck.lost !== 0 || lossCheck.overCounted !== 0) process.exitCode = 1
}

await main()
