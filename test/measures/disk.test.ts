import { spawn, execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { postStatus, preparedDataDir, queryStopped, serveProcess, tempDir } from '../helpers/server.ts'

// Disk faults under the journal, for real: fdatasync failing with EIO (injected by strace into the
// running server, journal and embedded engine alike), fdatasync stuck, and a journal disk that
// fills up (a small tmpfs). Producers get 503 and nothing of those requests is ever stored;
// nothing acknowledged is lost; writes resume when the fault clears; /status tells the truth.
// Needs root (ptrace, mount) and strace: CI runs as root and .ci/run installs strace.
const test = suite('disk faults under the journal')

const NAME = 'disk'
const usable = process.getuid?.() === 0 && fs.existsSync('/usr/bin/strace')
if (!usable && process.env.CI) throw new Error('these tests need root and /usr/bin/strace (apt-get install strace)')

const batch = (value: number, count = 10) =>
  Array.from({ length: count }, () => ({ measureName: NAME, value, startDate: '2022-01-01' }))

/** strace attached to every thread of `pid`, injecting `spec` into fdatasync; stops (detaches) when killed. */
function inject(pid: number, spec: string) {
  const strace = spawn(
    'strace',
    ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=fdatasync', '-e', `inject=fdatasync:${spec}`, '-p', String(pid)],
    {
      stdio: 'ignore',
    },
  )
  const exited = new Promise((resolve) => strace.on('exit', resolve))
  return {
    stop: () => {
      strace.kill('SIGINT')
      return exited
    },
  }
}

const until = async (check: () => Promise<boolean>, what: string, ms = 15_000) => {
  for (const deadline = Date.now() + ms; !(await check()); ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
const writes = async (url: string) =>
  ((await (await fetch(`${url}/status`)).json()) as { writes: { status: string; error?: string } }).writes

/** raw_measures' rows by value and the aggregates' count, once the server has stopped. */
async function stored(dataDir: string, journalDir?: string): Promise<unknown> {
  // A restart first: whatever the journal still holds is loaded (or was), as after any crash.
  const server = serveProcess(dataDir, journalDir ? { DACC_INGEST_JOURNAL_DIR: journalDir } : {})
  await server.url
  server.child.kill('SIGTERM')
  assert.is(await server.exited, 0)
  const [result] = await queryStopped(
    dataDir,
    `SELECT groupArray((value, n)) AS raw, (SELECT sum(count) FROM aggregates) AS aggregated
     FROM (SELECT value, count() AS n FROM raw_measures GROUP BY value ORDER BY value)`,
  )
  return result
}

test('fdatasync fails with EIO: 503 and nothing stored, writes resume once it succeeds again', async () => {
  if (!usable) return console.log('  (skipped: needs root and strace)')
  const { dataDir, token } = await preparedDataDir([{ name: NAME, aggregationThreshold: 1, accessApp: true }])
  const server = serveProcess(dataDir)
  const url = await server.url
  let before = 0
  try {
    assert.is(await postStatus(`${url}/measures`, token, batch(1)), 201)
    const fault = inject(server.child.pid!, 'error=EIO')
    // Until strace has attached, writes go on (and count): value 2 then; refused ones are value 4.
    await until(async () => {
      const status = await postStatus(`${url}/measures`, token, batch(2))
      if (status === 201) before += 10
      return status === 503
    }, 'a 503')
    assert.is(await postStatus(`${url}/measures`, token, batch(4)), 503, 'still refused')
    const failing = await writes(url)
    assert.is(failing.status, 'ko')
    assert.match(failing.error ?? '', /^writing the journal failed: .*EIO/)
    await fault.stop()
    await until(async () => (await postStatus(`${url}/measures`, token, batch(3))) === 201, 'writes to resume')
    await until(async () => (await writes(url)).status === 'ok', '/status to be ok again')
  } finally {
    server.child.kill('SIGTERM')
    await server.exited
  }
  // Only what was acknowledged: no byte of a request whose fsync failed came back later.
  const result = (await stored(dataDir)) as { raw: [number, number][]; aggregated: number }
  assert.equal(
    result.raw.filter(([value]) => value !== 3),
    [[1, 10], ...(before > 0 ? [[2, before]] : [])],
    'nothing of the refused requests (value 2 after the fault, value 4)',
  )
  assert.ok(
    result.raw.some(([value]) => value === 3),
    'writes resumed',
  )
  assert.is(
    result.aggregated,
    result.raw.reduce((total, [, n]) => total + n, 0),
  )
})

test('an fdatasync stuck past ingest.appendStallMs makes writes ko, then ok once it completes', async () => {
  if (!usable) return console.log('  (skipped: needs root and strace)')
  const { dataDir, token } = await preparedDataDir([{ name: NAME, aggregationThreshold: 1, accessApp: true }])
  const server = serveProcess(dataDir, { DACC_INGEST_APPEND_STALL_MS: '500' })
  const url = await server.url
  try {
    const fault = inject(server.child.pid!, 'delay_enter=3000000')
    await new Promise((resolve) => setTimeout(resolve, 500)) // strace attaches
    const slow = postStatus(`${url}/measures`, token, batch(1), undefined, 20_000)
    await until(async () => (await writes(url)).status === 'ko', 'writes to turn ko', 10_000)
    assert.match((await writes(url)).error ?? '', /^a journal append \(write and fsync\) has not completed for \d+ s$/)
    await fault.stop()
    assert.is(await slow, 201, 'answered once its fsync completed')
    await until(async () => (await writes(url)).status === 'ok', 'writes to be ok again')
  } finally {
    server.child.kill('SIGTERM')
    await server.exited
  }
})

test('a full journal disk: 503 and nothing stored, nothing acknowledged lost, writes resume with room', async () => {
  if (!usable) return console.log('  (skipped: needs root and mount)')
  const { dataDir, token } = await preparedDataDir([{ name: NAME, aggregationThreshold: 1, accessApp: true }])
  const journalDir = path.join(tempDir(), 'journal')
  fs.mkdirSync(journalDir)
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', journalDir])
  let acknowledged = 0
  try {
    // No load for a minute: the journal only grows.
    const server = serveProcess(dataDir, {
      DACC_INGEST_JOURNAL_DIR: journalDir,
      DACC_INGEST_MAX_BATCH_DELAY_MS: '60000',
    })
    const url = await server.url
    try {
      let status = 201
      for (let value = 1; status === 201; value++) {
        status = await postStatus(`${url}/measures`, token, batch(value, 200))
        if (status === 201) acknowledged += 200
        else assert.is(status, 503, 'refused with 503 once the disk is full')
      }
      assert.ok(acknowledged > 0)
      assert.match((await writes(url)).error ?? '', /^writing the journal failed: .*ENOSPC/)
      assert.is(await postStatus(`${url}/measures`, token, batch(9999, 200)), 503, 'still full')
      execFileSync('mount', ['-o', 'remount,size=16m', journalDir])
      await until(async () => (await postStatus(`${url}/measures`, token, batch(10_000, 200))) === 201, 'room again')
      acknowledged += 200
    } finally {
      server.child.kill('SIGTERM')
      await server.exited
    }
    const result = (await stored(dataDir, journalDir)) as { raw: [number, number][]; aggregated: number }
    const total = result.raw.reduce((sum, [, n]) => sum + n, 0)
    assert.is(total, acknowledged, 'every acknowledged measure, and only those')
    assert.is(result.aggregated, acknowledged)
    assert.not.ok(
      result.raw.some(([value]) => value === 9999),
      'the request refused while the disk was full is not stored',
    )
  } finally {
    execFileSync('umount', ['-l', journalDir])
  }
})

test.run()
