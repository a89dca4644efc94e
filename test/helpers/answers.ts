import { DAY_MS } from '../../src/dates.ts'
import { insertMeasures } from '../../src/measures/queries.ts'
import type { MeasureRow } from '../../src/measures/schema.ts'
import type { TestServer } from './server.ts'

export { DAY_MS }

/**
 * Inserts `count` measures of `name` as if received `daysAgo` days ago, spread over 2022's first
 * weeks, two devices and many values (so that every statistic, quartiles included, means something).
 */
export async function insertReceived(server: TestServer, name: string, count: number, daysAgo: number): Promise<void> {
  const rows = Array.from({ length: count }, (_, i): MeasureRow => [name, `2022-01-${String(1 + (i % 20)).padStart(2, '0')} 00:00:00`, 'app', `device${i % 2}`, '', '', (i * 7) % 23, true, '0'])
  await insertMeasures(server.deps.clickhouse.client, [{ rows, idempotencyKey: '' }], new Date(Date.now() - daysAgo * DAY_MS))
}

/** The bodies of /aggregate for `name`, as sent: stored buckets and every period, without and with a wildcard. */
export async function aggregateAnswers(server: TestServer, name: string): Promise<string[]> {
  const token = await server.token(['aggregate:read'])
  const answers: string[] = []
  for (const period of [undefined, 'day', 'week', 'month', 'year']) {
    for (const wildcard of [undefined, 'group1']) {
      const response = await server.post('/aggregate', { measureName: name, startDate: '2022-01-01', endDate: '2023-01-01', period, wildcard }, token)
      answers.push(`${response.status} ${await response.text()}`)
    }
  }
  return answers
}
