import { UsageError } from '../errors.ts'
import type { Definition } from '../definitions/schema.ts'
import { countAnswered, DEMO, DEMO_DEFINITIONS, monthMeasures, monthStart } from './data.ts'

/**
 * Seeds the demo's measures through a running server's HTTP API, as any producer writes them
 * (validated, acknowledged in the journal, in every answer from their 201 on). What is already
 * there is read back from the server itself, so no marker can disagree with the data: a month of
 * a measure is one `POST /measures`, stored whole or not at all, and it is there when the demo's
 * answered buckets of that month count at least what the demo sends (measures others add with
 * createdBy "demo" only make the count larger). A run cut anywhere is completed by the next one,
 * never doubled.
 */

export type SeedTokens = { read: string; write: string }
export type Seeded = { sent: number; present: number }

export async function seedDemo(url: string, tokens: SeedTokens, months: number): Promise<Seeded> {
  const seeded: Seeded = { sent: 0, present: 0 }
  for (const definition of DEMO_DEFINITIONS) {
    const counted = await countedByMonth(url, tokens.read, definition, months)
    for (let month = 0; month < months; month++) {
      const measures = monthMeasures(definition, month)
      if ((counted.get(monthStart(month)) ?? 0) >= countAnswered(measures, definition.aggregationThreshold)) {
        seeded.present += measures.length
        continue
      }
      const { count } = (await call(url, tokens.write, 'POST', '/measures', measures)) as { count: number }
      seeded.sent += count
    }
  }
  return seeded
}

/** The demo's measures of `definition` the server answers, by month (`YYYY-MM-01`). */
async function countedByMonth(
  url: string,
  token: string,
  definition: Definition,
  months: number,
): Promise<Map<string, number>> {
  const params = new URLSearchParams({
    measureName: definition.name,
    startDate: monthStart(0),
    endDate: monthStart(months),
    createdBy: DEMO,
    period: 'month',
  })
  const rows = (await call(url, token, 'GET', `/aggregate?${params}`)) as { startDate: string; count: number }[]
  const counted = new Map<string, number>()
  for (const row of rows) {
    const month = row.startDate.slice(0, 10)
    counted.set(month, (counted.get(month) ?? 0) + row.count)
  }
  return counted
}

async function call(url: string, token: string, method: string, route: string, body?: unknown): Promise<unknown> {
  const response = await fetch(url + route, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  const answer = (await response.json().catch(() => null)) as { error?: string } | null
  if (!response.ok) {
    throw new UsageError(
      `the server at ${url} answered ${response.status} to ${method} ${route.split('?')[0]}: ${answer?.error ?? response.statusText}`,
    )
  }
  return answer
}

/**
 * Resolves once the server at `url` answers GET /status with a 200, trying for `seconds`; `waiting`
 * is called once if it has to wait, so that a command started with the server says why it pauses.
 */
export async function waitForServer(url: string, seconds: number, waiting: () => void): Promise<void> {
  const deadline = Date.now() + seconds * 1000
  let last = 'no answer'
  for (let attempt = 0; ; attempt++) {
    try {
      const response = await fetch(`${url}/status`, { signal: AbortSignal.timeout(5000) })
      if (response.ok) return
      last = `${response.status} ${await response.text()}`
    } catch (err) {
      last = (err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message
    }
    if (Date.now() >= deadline) break
    if (attempt === 0) waiting()
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  throw new UsageError(`no DACC server is ready at ${url} (${last}): start it first (npm start, or dacc serve)`)
}
