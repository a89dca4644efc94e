import type { ClickHouseClient } from '../../src/clickhouse/client.ts'
import { DAY_MS } from '../../src/dates.ts'
import type { Measure } from '../../src/measures/schema.ts'
import type { TestServer } from './server.ts'

export { DAY_MS }

/**
 * Inserts measures straight into raw_measures, as received at `receivedAt` (the aggregate view
 * takes them in), as a data engineer's INSERT would: not through the server, whose answers show
 * them once its cache checks ClickHouse (at once with the tests' maxStalenessMs of 0).
 * insert_deduplicate = 0: a test may insert the same rows twice on purpose.
 */
export async function insertRaw(client: ClickHouseClient, measures: Measure[], receivedAt = new Date()): Promise<void> {
  const received = receivedAt.toISOString().slice(0, 23).replace('T', ' ')
  const rows = measures.map((measure) => ({
    measure_name: measure.measureName,
    start_date: measure.startDate,
    created_by: measure.createdBy,
    group1: measure.group1,
    group2: measure.group2,
    group3: measure.group3,
    value: measure.value,
    with_quartiles: measure.withQuartiles,
    contributor: measure.contributor || '0',
    received_at: received,
  }))
  await client.command({
    query: `INSERT INTO raw_measures (measure_name, start_date, created_by, group1, group2, group3, value, with_quartiles, contributor, received_at)
            SETTINGS insert_deduplicate = 0
            SELECT * FROM format(JSONEachRow, {rows:String})`,
    query_params: { rows: rows.map((row) => JSON.stringify(row)).join('\n') },
  })
}

/** A measure with the given fields, the others empty. */
export const measureOf = (
  fields: Partial<Measure> & Pick<Measure, 'measureName' | 'startDate' | 'value'>,
): Measure => ({
  createdBy: '',
  group1: '',
  group2: '',
  group3: '',
  withQuartiles: false,
  contributor: '',
  ...fields,
})

/**
 * Inserts `count` measures of `name` as if received `daysAgo` days ago, spread over 2022's first
 * weeks, two devices and many values (so that every statistic, quartiles included, means something).
 */
export async function insertReceived(server: TestServer, name: string, count: number, daysAgo: number): Promise<void> {
  const measures = Array.from({ length: count }, (_, i) =>
    measureOf({
      measureName: name,
      startDate: `2022-01-${String(1 + (i % 20)).padStart(2, '0')} 00:00:00`,
      createdBy: 'app',
      group1: `device${i % 2}`,
      value: (i * 7) % 23,
      withQuartiles: true,
    }),
  )
  await insertRaw(server.deps.clickhouse.client, measures, new Date(Date.now() - daysAgo * DAY_MS))
}

/** The bodies of /aggregate for `name`, as sent: stored buckets and every period, without and with a wildcard. */
export async function aggregateAnswers(server: TestServer, name: string): Promise<string[]> {
  const token = await server.token(['aggregate:read'])
  const answers: string[] = []
  for (const period of [undefined, 'day', 'week', 'month', 'year']) {
    for (const wildcard of [undefined, 'group1']) {
      const response = await server.post(
        '/aggregate',
        { measureName: name, startDate: '2022-01-01', endDate: '2023-01-01', period, wildcard },
        token,
      )
      answers.push(`${response.status} ${await response.text()}`)
    }
  }
  return answers
}
