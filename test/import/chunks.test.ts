import fs from 'node:fs'
import path from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { openClickHouse, type ClickHouse } from '../../src/clickhouse/client.ts'
import { migrate } from '../../src/clickhouse/migrate.ts'
import { completeRawChunks, insertRawChunk } from '../../src/import/chunks.ts'
import { listQuarantine } from '../../src/measures/quarantine.ts'
import { testConfig } from '../helpers/server.ts'

// An import-original chunk of raw rows loads whatever weeks its rows were received in (raw_measures
// is partitioned by week of receipt: a small measure the original never purged spans years), a
// chunk a killed import left is completed by the next start, and one ClickHouse refuses is set
// aside instead of stopping every later start.
const test = suite('import-original chunks')

// RAW_COLUMNS (src/import/mapping.ts): measure, start date, createdBy, groups, value, withQuartiles,
// received at, original id, counted by the imported aggregates.
const row = (id: number, weeksAgo: number, measure = 'small') =>
  JSON.stringify([
    measure,
    '2020-01-01 00:00:00',
    '',
    '',
    '',
    '',
    id,
    false,
    new Date(Date.UTC(2024, 0, 1) - weeksAgo * 7 * 86_400_000).toISOString().slice(0, 23).replace('T', ' '),
    id,
    false,
  ])
const chunk = (ids: number[], measure?: string) => `${ids.map((id) => row(id, id, measure)).join('\n')}\n`

async function withEngine(fn: (clickhouse: ClickHouse, journalDir: string) => Promise<void>): Promise<void> {
  const config = testConfig()
  const clickhouse = await openClickHouse(config)
  try {
    await migrate(clickhouse.client)
    await fn(clickhouse, config.ingest.journalDir)
  } finally {
    await clickhouse.close()
  }
}
const counts = async ({ client }: ClickHouse) =>
  (
    await client.query({
      query: `SELECT (SELECT count() FROM raw_measures) AS raw, (SELECT sum(count) FROM aggregates) AS aggregated,
                     (SELECT uniqExact(toMonday(received_at)) FROM raw_measures) AS weeks`,
      format: 'JSONEachRow',
    })
  ).json()

test('a chunk spanning 150 weeks loads, once, also when inserted again', async () => {
  await withEngine(async (clickhouse, journalDir) => {
    const ids = Array.from({ length: 150 }, (_, i) => i + 1)
    await insertRawChunk(clickhouse, journalDir, chunk(ids), ids)
    await insertRawChunk(clickhouse, journalDir, chunk(ids), ids)
    assert.equal(await counts(clickhouse), [{ raw: 150, aggregated: 150, weeks: 150 }])
    assert.equal(fs.readdirSync(path.join(journalDir, 'original')), [], 'nothing left written ahead')
  })
})

test('chunks a killed import left are completed at the next start; one refused is set aside', async () => {
  await withEngine(async (clickhouse, journalDir) => {
    const dir = path.join(journalDir, 'original')
    fs.mkdirSync(dir, { recursive: true })
    const left = `dacc-original-${'a'.repeat(32)}`
    fs.writeFileSync(path.join(dir, `${left}.json`), chunk([1, 2, 3]))
    const refused = `dacc-original-${'b'.repeat(32)}`
    fs.writeFileSync(path.join(dir, `${refused}.json`), chunk([4, 5], 'poison'))
    fs.writeFileSync(path.join(dir, `dacc-original-${'c'.repeat(32)}.json.part`), '["cut sho')
    await clickhouse.client.command({
      query: "ALTER TABLE raw_measures ADD CONSTRAINT no_poison CHECK measure_name != 'poison'",
    })
    assert.equal(await completeRawChunks(clickhouse, journalDir, ''), { completed: 1, setAside: 1 })
    assert.equal(await counts(clickhouse), [{ raw: 3, aggregated: 3, weeks: 3 }])
    assert.equal(fs.readdirSync(dir), [], 'the chunk completed and the unfinished one are gone')
    const [entry] = listQuarantine(journalDir)
    assert.equal(
      { id: entry.id, kind: entry.kind, rows: entry.rows, measures: entry.measures },
      { id: refused, kind: 'import-chunk', rows: 2, measures: { poison: 2 } },
    )
    assert.match(entry.error, /no_poison/)
  })
})

test.run()
