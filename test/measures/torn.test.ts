import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { scanFrames } from '../../src/measures/frames.ts'
import { postStatus, preparedDataDir, queryStopped, serveProcess, tempDir } from '../helpers/server.ts'

// A torn append: the server killed while writing a request's rows leaves any prefix of them (a
// SIGKILL stops a multi-page write between pages; a power cut keeps any prefix of unsynced pages).
// Here the last request of the journal is cut at chosen offsets — between rows, inside a row, inside
// its frame's marker — keyed and unkeyed, single and batch. After the restart that request counts
// whole or not at all (here: not at all, its frame is torn), everything before it counts, and a
// keyed retry makes it exactly once in raw_measures, in aggregates and in answers.
const test = suite('torn appends')

const NAME = 'torn'
const BEFORE = 30
const LAST = 12

type Case = { name: string; batch: boolean; keyed: boolean; cut(frame: Buffer): number }

const lines = (frame: Buffer) => [...frame.toString('latin1').matchAll(/\n/g)].map((match) => match.index! + 1)
const CASES: Case[] = [
  { name: 'batch, keyed, between rows', batch: true, keyed: true, cut: (frame) => lines(frame)[5] },
  { name: 'batch, keyed, inside a row', batch: true, keyed: true, cut: (frame) => lines(frame)[7] - 9 },
  { name: 'batch, keyed, inside its marker', batch: true, keyed: true, cut: (frame) => frame.length - 3 },
  { name: 'batch, unkeyed, between rows', batch: true, keyed: false, cut: (frame) => lines(frame)[LAST - 1] },
  { name: 'single, keyed, inside the row', batch: false, keyed: true, cut: () => 17 },
  { name: 'single, unkeyed, inside its marker', batch: false, keyed: false, cut: (frame) => frame.length - 40 },
]

const measures = (count: number, value: number) =>
  Array.from({ length: count }, (_, i) => ({ measureName: NAME, value, startDate: `2022-01-0${1 + (i % 5)}` }))

/**
 * A data directory whose journal holds, unloaded, a whole batch, then the last request as a crash
 * during its append leaves it: written (it is cut below) but never acknowledged, so its key never
 * reached the index — the second server dies right after the append (DACC_TEST_CRASH_AT). Made
 * once per kind of request, copied for each cut.
 */
async function journalOf(batch: boolean, keyed: boolean): Promise<{ dataDir: string; token: string }> {
  const { dataDir, token } = await preparedDataDir([
    { name: NAME, aggregationThreshold: 1, accessApp: true, withQuartiles: true },
  ])
  const unloaded = { DACC_INGEST_MAX_BATCH_DELAY_MS: '60000' }
  const first = serveProcess(dataDir, unloaded)
  assert.is(await postStatus(`${await first.url}/measures`, token, measures(BEFORE, 1), 'before'), 201)
  first.child.kill('SIGKILL')
  await first.exited
  const second = serveProcess(dataDir, { ...unloaded, DACC_TEST_CRASH_AT: 'after-append' })
  const last = batch ? measures(LAST, 2) : measures(1, 2)[0]
  const route = `${await second.url}/${batch ? 'measures' : 'measure'}`
  assert.is(await postStatus(route, token, last, keyed ? 'last' : undefined), 0, 'killed before its answer')
  await second.exited
  return { dataDir, token }
}

const made = new Map<string, { dataDir: string; token: string }>()

for (const { name, batch, keyed, cut } of CASES) {
  test(`${name}: the request counts not at all, its retry exactly once`, async () => {
    const kind = `${batch}-${keyed}`
    if (!made.has(kind)) made.set(kind, await journalOf(batch, keyed))
    const original = made.get(kind)!
    const dataDir = path.join(tempDir(), 'data')
    fs.cpSync(original.dataDir, dataDir, { recursive: true, filter: (file) => !file.endsWith('.sock') })
    const journal = path.join(dataDir, 'journal')
    const [before, segment] = fs
      .readdirSync(journal)
      .filter((file) => file.endsWith('.tsv'))
      .sort()
    assert.equal(
      scanFrames(fs.readFileSync(path.join(journal, before))).frames.map((frame) => frame.rows),
      [BEFORE],
    )
    const bytes = fs.readFileSync(path.join(journal, segment))
    const [last] = scanFrames(bytes).frames
    const at = last.start + cut(bytes.subarray(last.start, last.end))
    assert.ok(at > last.start && at < last.end, `the cut (${at}) is inside the last frame`)
    fs.truncateSync(path.join(journal, segment), at)

    const size = batch ? LAST : 1
    const server = serveProcess(dataDir)
    try {
      await checkRestarted(await server.url)
    } finally {
      server.child.kill('SIGTERM')
    }
    assert.is(await server.exited, 0)
    await checkStored()

    async function checkRestarted(url: string) {
      const count = async () => {
        const response = await fetch(
          `${url}/aggregate?measureName=${NAME}&startDate=2022-01-01&endDate=2022-02-01&period=month`,
          { headers: { Authorization: `Bearer ${original.token}` } },
        )
        return ((await response.json()) as { count: number }[])[0]?.count ?? 0
      }
      assert.is(await count(), BEFORE, 'the whole request before it counts; the torn one not at all')
      if (keyed) {
        const retry = batch ? measures(LAST, 2) : measures(1, 2)[0]
        assert.is(await postStatus(`${url}/${batch ? 'measures' : 'measure'}`, original.token, retry, 'last'), 201)
        assert.is(await postStatus(`${url}/${batch ? 'measures' : 'measure'}`, original.token, retry, 'last'), 201)
        assert.is(await count(), BEFORE + size, 'its retry counts once')
      }
    }

    async function checkStored() {
      const expected = keyed ? size : 0
      assert.equal(
        await queryStopped(
          dataDir,
          `SELECT (SELECT count() FROM raw_measures WHERE value = 2) AS raw,
                  (SELECT sum(count) FROM aggregates WHERE min = 2) AS aggregated`,
        ),
        [{ raw: expected, aggregated: expected }],
        'raw_measures and aggregates',
      )
    }
  })
}

test.run()
